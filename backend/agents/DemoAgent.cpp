#include "agents/DemoAgent.h"

#include "agents/Itinerary.h"

#include <QDate>
#include <QJsonDocument>
#include <QJsonObject>
#include <utility>

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
    m_tool.clear();
    if (request.options.value(QStringLiteral("demo_tools")).toBool()) {
        const QString destination = Itinerary::parseTrip(request.prompt).destination;
        const QString date = QDate::currentDate().toString(Qt::ISODate);
        const QString arguments = QString::fromUtf8(
            QJsonDocument(QJsonObject{{QStringLiteral("destination"), destination}, {QStringLiteral("date"), date}}).toJson(QJsonDocument::Compact));
        m_tool = {QStringLiteral("call_demo_%1").arg(request.turn), QStringLiteral("get_weather_forecast"), arguments,
                  TravelTools::call(QStringLiteral("get_weather_forecast"), arguments)};
    }
    m_timer.start();
}

void DemoAgent::cancel()
{
    m_timer.stop();
}

void DemoAgent::emitNext()
{
    if (!m_tool.isEmpty()) {
        const QStringList call = std::exchange(m_tool, {});
        Q_EMIT toolCall(call.at(0), call.at(1), call.at(2), call.at(3));
        return;
    }
    if (m_next >= m_chunks.size()) {
        m_timer.stop();
        Q_EMIT finished();
        return;
    }
    Q_EMIT chunk(m_chunks.at(m_next++));
}
