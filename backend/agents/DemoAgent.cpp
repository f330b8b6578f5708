#include "agents/DemoAgent.h"

#include "agents/Itinerary.h"

DemoAgent::DemoAgent(int paceMs, QObject *parent)
    : Agent(parent)
{
    m_timer.setInterval(qMax(0, paceMs));
    connect(&m_timer, &QTimer::timeout, this, &DemoAgent::emitNext);
}

QStringList DemoAgent::split(const QString &text)
{
    QStringList out;
    QString current;
    int words = 0;
    int target = 2;
    for (int i = 0; i < text.size(); ++i) {
        const QChar c = text.at(i);
        current += c;
        const bool boundary = c.isSpace() && (i + 1 == text.size() || !text.at(i + 1).isSpace());
        if (boundary && ++words >= target) {
            out << current;
            current.clear();
            words = 0;
            target = 1 + (out.size() * 7) % 3; // 1-3 words, varied like tokens
        }
    }
    if (!current.isEmpty())
        out << current;
    return out;
}

void DemoAgent::start(const AgentRequest &request)
{
    QString text;
    if (request.turn > 1)
        text = QStringLiteral("Here is an update to your plan, taking into account: *%1*\n\n").arg(request.prompt.left(200));
    text += Itinerary::write(request.prompt);
    m_chunks = split(text);
    m_next = 0;
    m_timer.start();
}

void DemoAgent::cancel()
{
    m_timer.stop();
}

void DemoAgent::emitNext()
{
    if (m_next >= m_chunks.size()) {
        m_timer.stop();
        Q_EMIT finished();
        return;
    }
    Q_EMIT chunk(m_chunks.at(m_next++));
}
