#include "agents/Itinerary.h"

#include "agents/DeterministicPicker.h"
#include "agents/TravelTools.h"

#include <QDate>
#include <QRegularExpression>
#include <QStringList>

namespace {
using Picker = DeterministicPicker;

const QStringList kMorning{
    QStringLiteral("Start with a walking tour of the old town and its main square"),
    QStringLiteral("Visit the city's landmark museum before the crowds arrive"),
    QStringLiteral("Take a guided food-market tour and taste the local breakfast"),
    QStringLiteral("Climb to the best viewpoint in town for sunrise photos"),
    QStringLiteral("Explore the historic temple district on foot"),
    QStringLiteral("Rent bikes and ride along the waterfront"),
    QStringLiteral("Join a morning cooking class with a local chef"),
};
const QStringList kAfternoon{
    QStringLiteral("Wander the artisan quarter and browse independent shops"),
    QStringLiteral("Take a day trip to a nearby village by regional train"),
    QStringLiteral("Relax in the botanical garden and its glasshouses"),
    QStringLiteral("See the modern art gallery and its rooftop sculpture park"),
    QStringLiteral("Cruise the river or harbour on a hop-on boat"),
    QStringLiteral("Hike a scenic trail just outside the city"),
    QStringLiteral("Visit the castle and its gardens"),
};
const QStringList kEvening{
    QStringLiteral("Catch the sunset from a rooftop bar"),
    QStringLiteral("See a traditional music performance"),
    QStringLiteral("Stroll the night market and try the street food"),
    QStringLiteral("Book a table at a neighbourhood bistro"),
    QStringLiteral("Take an evening ghost-stories walking tour"),
    QStringLiteral("Enjoy a jazz club in the old quarter"),
};
const QStringList kFood{
    QStringLiteral("a family-run noodle bar near the station"),
    QStringLiteral("the seafood counter at the central market"),
    QStringLiteral("a tiny bakery famous for its pastries"),
    QStringLiteral("a vegetarian tasting menu in a converted warehouse"),
    QStringLiteral("a classic grill house loved by locals"),
    QStringLiteral("a tapas-style wine bar with regional dishes"),
};
const QStringList kTips{
    QStringLiteral("Buy a multi-day transit pass: it pays for itself by day two."),
    QStringLiteral("Carry some cash; smaller shops may not take cards."),
    QStringLiteral("Museums are often free or cheaper on the first Sunday of the month."),
    QStringLiteral("Book popular restaurants a few days ahead."),
    QStringLiteral("Pack layers: mornings and evenings can be cool."),
    QStringLiteral("Download an offline map before you arrive."),
    QStringLiteral("Learn a few words of the local language; it opens doors."),
};
QString titleCase(QString s)
{
    bool start = true;
    for (QChar &c : s) {
        if (start && c.isLetter())
            c = c.toUpper();
        start = c.isSpace() || c == QLatin1Char('-');
    }
    return s;
}
} // namespace

namespace Itinerary {

Trip parseTrip(const QString &prompt)
{
    Trip trip;
    static const QRegularExpression days(QStringLiteral("(\\d{1,2})\\s*[- ]?\\s*(?:day|days|night|nights)\\b"),
                                         QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression week(QStringLiteral("\\b(a|one|two|2)\\s+weeks?\\b"), QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression weekend(QStringLiteral("\\bweekend\\b"), QRegularExpression::CaseInsensitiveOption);
    if (const auto m = days.match(prompt); m.hasMatch())
        trip.days = m.captured(1).toInt();
    else if (const auto w = week.match(prompt); w.hasMatch())
        trip.days = (w.captured(1).toLower() == QLatin1String("two") || w.captured(1) == QLatin1String("2")) ? 14 : 7;
    else if (weekend.match(prompt).hasMatch())
        trip.days = 2;
    trip.days = qBound(1, trip.days, 14);

    // "trip to Tokyo, Japan for ...", "visit Lisbon", "in Kyoto next month"
    static const QRegularExpression dest(
        QStringLiteral("\\b(?:to|visit|visiting|in|around|explore)\\s+([A-Z][\\w'’.-]*(?:[ ,]+(?:[A-Z][\\w'’.-]*|de|da|del|la|le))*)"));
    auto it = dest.globalMatch(prompt);
    while (it.hasNext()) {
        const QString candidate = it.next().captured(1).trimmed();
        static const QStringList stop{QStringLiteral("Include"), QStringLiteral("Plan"), QStringLiteral("I"), QStringLiteral("Please")};
        if (!candidate.isEmpty() && !stop.contains(candidate.section(QLatin1Char(' '), 0, 0))) {
            trip.destination = candidate;
            while (trip.destination.endsWith(QLatin1Char(',')) || trip.destination.endsWith(QLatin1Char('.')))
                trip.destination.chop(1);
            break;
        }
    }
    if (trip.destination.isEmpty())
        trip.destination = QStringLiteral("Lisbon, Portugal");
    trip.destination = titleCase(trip.destination);
    return trip;
}

QString write(const QString &prompt)
{
    const Trip trip = parseTrip(prompt);
    Picker p = Picker::forText(prompt);
    const QString city = trip.destination.section(QLatin1Char(','), 0, 0).trimmed();
    const QDate start = QDate::currentDate().addMonths(1);
    QString out;
    out += QStringLiteral("# ✈️ %1-Day Trip to %2\n\n").arg(trip.days).arg(trip.destination);
    out += QStringLiteral("Here is a day-by-day plan for **%1**, with the weather forecast and local events for each day "
                          "(checked with the `get_weather_forecast` and `get_local_events` tools).\n\n")
               .arg(city);
    out += QStringLiteral("> Dates assume you arrive on %1.\n\n").arg(start.toString(Qt::ISODate));
    for (int day = 1; day <= trip.days; ++day) {
        const QString date = start.addDays(day - 1).toString(Qt::ISODate);
        out += QStringLiteral("## Day %1 — %2\n\n").arg(day).arg(start.addDays(day - 1).toString(QStringLiteral("dddd d MMMM")));
        out += QStringLiteral("🌤️ **Weather:** %1\n\n").arg(TravelTools::weatherForecast(trip.destination, date));
        out += QStringLiteral("- 🌅 **Morning:** %1.\n").arg(p.pick(kMorning));
        const QList<QString> meals = p.pickDistinct(kFood, 2); // lunch and dinner never at the same place
        const QString &lunch = meals.at(0);
        out += QStringLiteral("- 🍜 **Lunch:** %1.\n").arg(lunch.left(1).toUpper() + lunch.mid(1));
        out += QStringLiteral("- 🏛️ **Afternoon:** %1.\n").arg(p.pick(kAfternoon));
        out += QStringLiteral("- 🌙 **Evening:** %1, then dinner at %2.\n\n").arg(p.pick(kEvening), meals.at(1));
        out += QStringLiteral("🎉 **Happening today:** %1.\n\n").arg(TravelTools::localEvents(trip.destination, date));
    }
    out += QStringLiteral("## 🚇 Getting Around\n\n");
    out += QStringLiteral("1. Use public transit for longer hops across %1.\n").arg(city);
    out += QStringLiteral("2. Walk the central districts: most sights are close together.\n");
    out += QStringLiteral("3. Keep taxis or ride-hailing for late evenings.\n\n");
    out += QStringLiteral("## 💡 Tips\n\n");
    for (const QString &tip : p.pickDistinct(kTips, 3))
        out += QStringLiteral("- %1\n").arg(tip);
    out += QStringLiteral("\nHave a wonderful trip to %1! 🧳\n").arg(city);
    return out;
}

} // namespace Itinerary
