#pragma once

#include <QJsonArray>
#include <QString>

// The TravelPlanner's tools: deterministic local data (no network), so the offline demo and the
// model-backed agent quote the same forecasts and events for the same destination and date.
namespace TravelTools {
// "Partly cloudy ⛅, 18°C / 11°C, 20% chance of rain" for a destination and ISO date.
QString weatherForecast(const QString &destination, const QString &date);
// A short list of things happening that day.
QString localEvents(const QString &destination, const QString &date);

// The tools as Chat Completions function tools:
// [{"type": "function", "function": {"name": "get_weather_forecast", "parameters": {...}}}, ...]
QJsonArray definitions();

// Runs the tool `name` with its JSON-encoded arguments and returns the text for the `tool`
// message. Unknown tools and malformed arguments give an error text the model can read and
// recover from (a model's mistake is not a failure of the run); *ok tells them apart for logs.
QString call(const QString &name, const QString &argumentsJson, bool *ok = nullptr);
} // namespace TravelTools
