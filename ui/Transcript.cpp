#include "Transcript.h"

#include <QJsonDocument>
#include <QJsonObject>

int Transcript::turnNumber(const QByteArray &turnEventData)
{
    return QJsonDocument::fromJson(turnEventData).object().value(QStringLiteral("turn")).toInt(0);
}

const Transcript::Turn &Transcript::beginTurn(const QByteArray &data)
{
    const QJsonObject o = QJsonDocument::fromJson(data).object();
    Turn t;
    t.number = o.value(QStringLiteral("turn")).toInt(lastTurnNumber() + 1);
    t.prompt = o.value(QStringLiteral("prompt")).toString();
    if (m_turns.size() == 1 && m_turns.first().text.isEmpty() && m_turns.first().prompt.isEmpty())
        m_turns.clear(); // placeholder made by a message that came first
    m_turns.append(t);
    return m_turns.last();
}

QString Transcript::appendMessage(const QByteArray &data)
{
    if (m_turns.isEmpty())
        m_turns.append(Turn{1, QString(), QString()});
    const QString chunk = QString::fromUtf8(data);
    m_turns.last().text += chunk;
    return chunk;
}

QString Transcript::text() const
{
    QString out;
    for (const Turn &t : m_turns)
        out += t.text;
    return out;
}

QString Transcript::markdown(const QList<Turn> &turns)
{
    QString md;
    for (qsizetype i = 0; i < turns.size(); ++i) {
        const Turn &t = turns.at(i);
        if (i > 0)
            md += QStringLiteral("\n\n---\n\n");
        if (!t.prompt.isEmpty()) {
            // The prompt is the user's text, not Markdown: escape it, keep it on one line.
            QString prompt;
            for (const QChar c : t.prompt.simplified()) {
                if (QStringLiteral("\\`*_{}[]<>()#+-.!|~").contains(c))
                    prompt += QLatin1Char('\\');
                prompt += c;
            }
            md += QStringLiteral("> **Turn %1** \u00b7 *%2*\n\n").arg(t.number).arg(prompt);
        }
        md += t.text;
    }
    return md;
}
