#pragma once

#include <QColor>
#include <QPalette>
#include <QString>

// The one place for the window's colours and its style sheet. Every colour derives from the
// palette in force (the desktop's, or the one AGENT_STREAMS_THEME asks for), so nothing
// vanishes on a dark theme: semantic colours (ok, error, ...) come in a light-theme and a
// dark-theme shade, and the style sheet is rebuilt when the palette changes.
//
//   Theme::applyEnvironment();                   // once, before widgets: AGENT_STREAMS_THEME
//   window->setStyleSheet(Theme::styleSheet(window->palette()));
//   painter.setPen(Theme::color(Theme::Error, palette()));
namespace Theme {

enum Role { Ok, Error, Warning, Info, Muted, Band, Separator };

bool isDark(const QPalette &palette);
QColor color(Role role, const QPalette &palette);
// Text in this hue, readable on the palette's window colour (darker on light, lighter on dark).
QColor readable(const QColor &hue, const QPalette &palette);
// A distinct, stable colour per HTTP connection number (1, 2, ...), readable on the palette's
// base colour: golden-angle hues, so neighbours differ most.
QColor connectionColor(int connection, const QPalette &palette);

QPalette darkPalette();
QPalette lightPalette();
// AGENT_STREAMS_THEME=dark|light sets the application palette; unset (or "system") keeps the
// desktop's, except that GTK_THEME=<name>:dark or <name>-dark picks the dark palette (Qt 6.4
// reads no colour scheme from GNOME). Returns the name of what it applied ("system" if none).
QString applyEnvironment();

// The window's style sheet: every rule the widgets used to set inline, by object name or by
// the "role" dynamic property (e.g. role="caption").
QString styleSheet(const QPalette &palette);

} // namespace Theme
