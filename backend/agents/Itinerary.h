#pragma once

#include "agents/TravelTools.h" // the tools the itinerary quotes

#include <QString>

// The offline TravelPlanner's knowledge: reads destination and trip length from a prompt and
// writes a day-by-day markdown itinerary, using the same deterministic tools (weather, local
// events) the model-backed agent calls.
namespace Itinerary {
struct Trip
{
    QString destination; // "Tokyo, Japan"
    int days = 3;
};
Trip parseTrip(const QString &prompt);
// The whole answer: headings, blank lines, lists, emoji. Deterministic for a prompt.
QString write(const QString &prompt);
} // namespace Itinerary
