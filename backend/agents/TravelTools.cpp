#include "agents/TravelTools.h"

#include "agents/DeterministicPicker.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

namespace {
const QStringList kSkies{QStringLiteral("Sunny ☀️"), QStringLiteral("Partly cloudy ⛅"), QStringLiteral("Light showers 🌦️"),
                         QStringLiteral("Overcast ☁️"), QStringLiteral("Clear and breezy 🌬️")};
const QStringList kEvents{QStringLiteral("a weekend farmers' market"), QStringLiteral("an open-air film screening"),
                          QStringLiteral("a street-food festival"), QStringLiteral("a free concert in the park"),
                          QStringLiteral("late opening at the national museum"), QStringLiteral("a craft-beer fair"),
                          QStringLiteral("a lantern parade at dusk")};

QJsonObject functionTool(const QString &name, const QString &description)
{
    const QJsonObject properties{
        {QStringLiteral("destination"),
         QJsonObject{{QStringLiteral("type"), QStringLiteral("string")},
                     {QStringLiteral("description"), QStringLiteral("City and country, e.g. \"Tokyo, Japan\"")}}},
        {QStringLiteral("date"),
         QJsonObject{{QStringLiteral("type"), QStringLiteral("string")},
                     {QStringLiteral("description"), QStringLiteral("The day, as an ISO date YYYY-MM-DD")}}},
    };
    const QJsonObject parameters{{QStringLiteral("type"), QStringLiteral("object")},
                                 {QStringLiteral("properties"), properties},
                                 {QStringLiteral("required"), QJsonArray{QStringLiteral("destination"), QStringLiteral("date")}}};
    return QJsonObject{{QStringLiteral("type"), QStringLiteral("function")},
                       {QStringLiteral("function"), QJsonObject{{QStringLiteral("name"), name},
                                                                {QStringLiteral("description"), description},
                                                                {QStringLiteral("parameters"), parameters}}}};
}

QString errorResult(const QString &message)
{
    return QString::fromUtf8(QJsonDocument(QJsonObject{{QStringLiteral("error"), message}}).toJson(QJsonDocument::Compact));
}
} // namespace

namespace TravelTools {

QString weatherForecast(const QString &destination, const QString &date)
{
    DeterministicPicker p = DeterministicPicker::forText(destination + date);
    const int high = 12 + int(p.next() % 18);
    const int low = high - 5 - int(p.next() % 6);
    const int rain = int(p.next() % 8) * 10;
    return QStringLiteral("%1, %2°C / %3°C, %4% chance of rain").arg(p.pick(kSkies)).arg(high).arg(low).arg(rain);
}

QString localEvents(const QString &destination, const QString &date)
{
    DeterministicPicker p = DeterministicPicker::forText(destination + QStringLiteral("events") + date);
    QString first = p.pick(kEvents);
    QString second = p.pick(kEvents);
    if (second == first)
        return first;
    return first + QStringLiteral(" and ") + second;
}

QJsonArray definitions()
{
    return QJsonArray{
        functionTool(QStringLiteral("get_weather_forecast"),
                     QStringLiteral("Get the weather forecast (sky, high/low temperature, chance of rain) for a destination on one day.")),
        functionTool(QStringLiteral("get_local_events"),
                     QStringLiteral("Get local events and happenings (markets, concerts, festivals) at a destination on one day.")),
    };
}

QString call(const QString &name, const QString &argumentsJson, bool *ok)
{
    if (ok)
        *ok = false;
    QJsonParseError parseError{};
    // Models send "" for "no arguments"; treat it like {} so the missing fields are reported.
    const QByteArray raw = argumentsJson.trimmed().isEmpty() ? QByteArray("{}") : argumentsJson.toUtf8();
    const QJsonDocument doc = QJsonDocument::fromJson(raw, &parseError);
    if (!doc.isObject())
        return errorResult(QStringLiteral("the arguments are not a JSON object (%1)").arg(parseError.errorString()));
    const QJsonObject args = doc.object();
    const QString destination = args.value(QStringLiteral("destination")).toString().trimmed();
    const QString date = args.value(QStringLiteral("date")).toString().trimmed();
    if (destination.isEmpty() || date.isEmpty())
        return errorResult(QStringLiteral("both \"destination\" and \"date\" are required"));

    QJsonObject result{{QStringLiteral("destination"), destination}, {QStringLiteral("date"), date}};
    if (name == QLatin1String("get_weather_forecast"))
        result.insert(QStringLiteral("forecast"), weatherForecast(destination, date));
    else if (name == QLatin1String("get_local_events"))
        result.insert(QStringLiteral("events"), localEvents(destination, date));
    else
        return errorResult(QStringLiteral("unknown tool \"%1\"; available: get_weather_forecast, get_local_events").arg(name));
    if (ok)
        *ok = true;
    return QString::fromUtf8(QJsonDocument(result).toJson(QJsonDocument::Compact));
}

} // namespace TravelTools
