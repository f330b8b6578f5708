#include "Theme.h"

#include <QApplication>
#include <QStyle>
#include <QStyleFactory>

#include <algorithm>
#include <cmath>

namespace Theme {

namespace {
QColor mix(const QColor &a, const QColor &b, double t) // t = 0: a, 1: b
{
    return QColor::fromRgbF(float(a.redF() + (b.redF() - a.redF()) * t), float(a.greenF() + (b.greenF() - a.greenF()) * t),
                            float(a.blueF() + (b.blueF() - a.blueF()) * t));
}
} // namespace

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness() < 128;
}

QColor color(Role role, const QPalette &palette)
{
    const bool dark = isDark(palette);
    switch (role) {
    case Ok: return dark ? QColor(0x81, 0xc9, 0x95) : QColor(0x1e, 0x8e, 0x3e);
    case Error: return dark ? QColor(0xf2, 0x8b, 0x82) : QColor(0xd9, 0x30, 0x25);
    case Warning: return dark ? QColor(0xfd, 0xd6, 0x63) : QColor(0xe3, 0x74, 0x00);
    case Info: return dark ? QColor(0x8a, 0xb4, 0xf8) : QColor(0x1a, 0x73, 0xe8);
    case Muted: return mix(palette.color(QPalette::WindowText), palette.color(QPalette::Window), 0.42);
    case Band: return dark ? QColor(0xfd, 0xa0, 0x3a) : QColor(0xf2, 0x99, 0x00);
    case Separator: return mix(palette.color(QPalette::Text), palette.color(QPalette::Base), 0.55);
    }
    return palette.color(QPalette::WindowText);
}

QColor readable(const QColor &hue, const QPalette &palette)
{
    return isDark(palette) ? hue.lighter(135) : hue.darker(125);
}

QColor connectionColor(int connection, const QPalette &palette)
{
    const int hue = int(std::fmod(200.0 + 137.508 * std::max(0, connection - 1), 360.0));
    return isDark(palette) ? QColor::fromHsv(hue, 150, 245) : QColor::fromHsv(hue, 220, 185);
}

QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x2b, 0x2d, 0x30), base(0x1f, 0x20, 0x23), text(0xe8, 0xea, 0xed), disabled(0x7c, 0x80, 0x86);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x29, 0x2a, 0x2e));
    p.setColor(QPalette::ToolTipBase, QColor(0x3c, 0x40, 0x43));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(0x9a, 0xa0, 0xa6));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(0x3a, 0x3c, 0x40));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xff, 0x8a, 0x80));
    p.setColor(QPalette::Light, QColor(0x50, 0x53, 0x57));
    p.setColor(QPalette::Midlight, QColor(0x44, 0x47, 0x4b));
    p.setColor(QPalette::Mid, QColor(0x5f, 0x63, 0x68));
    p.setColor(QPalette::Dark, QColor(0x18, 0x19, 0x1b));
    p.setColor(QPalette::Shadow, QColor(0x0b, 0x0b, 0x0c));
    p.setColor(QPalette::Highlight, QColor(0x3b, 0x82, 0xf0));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x8a, 0xb4, 0xf8));
    p.setColor(QPalette::LinkVisited, QColor(0xc5, 0x8a, 0xf9));
    for (const auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    p.setColor(QPalette::Disabled, QPalette::Base, window);
    p.setColor(QPalette::Disabled, QPalette::Button, QColor(0x33, 0x35, 0x38));
    p.setColor(QPalette::Disabled, QPalette::Highlight, QColor(0x44, 0x55, 0x70));
    return p;
}

QPalette lightPalette()
{
    if (QStyle *fusion = QStyleFactory::create(QStringLiteral("Fusion"))) {
        const QPalette p = fusion->standardPalette();
        delete fusion;
        return p;
    }
    return QPalette(QColor(0xef, 0xef, 0xef));
}

QString applyEnvironment()
{
    QString want = qEnvironmentVariable("AGENT_STREAMS_THEME").toLower();
    if (want.isEmpty() || want == QLatin1String("system")) {
        const QString gtk = qEnvironmentVariable("GTK_THEME").toLower();
        want = gtk.endsWith(QLatin1String(":dark")) || gtk.endsWith(QLatin1String("-dark")) ? QStringLiteral("dark") : QString();
    }
    if (want == QLatin1String("dark")) {
        QApplication::setPalette(darkPalette());
        return want;
    }
    if (want == QLatin1String("light")) {
        QApplication::setPalette(lightPalette());
        return want;
    }
    return QStringLiteral("system");
}

QString styleSheet(const QPalette &p)
{
    const bool dark = isDark(p);
    const QString base = p.color(QPalette::Base).name();
    const QString border = mix(p.color(QPalette::Mid), p.color(QPalette::Window), 0.35).name();
    const QString bar = mix(p.color(QPalette::Window), p.color(QPalette::Text), dark ? 0.07 : 0.045).name();
    const QColor error = color(Error, p);
    const QString errorBg = mix(p.color(QPalette::Base), error, dark ? 0.22 : 0.12).name();
    const QColor highlight = p.color(QPalette::Highlight);
    const QString muted = color(Muted, p).name();
    return QStringLiteral(
               "QLabel[role=\"caption\"] { color: %1; font-size: 8pt; font-weight: 600; letter-spacing: 1px; }\n"
               "QLabel[role=\"muted\"] { color: %1; }\n"
               "QLabel[role=\"error\"] { color: %2; }\n"
               "QLabel[alert=\"true\"] { color: %2; font-weight: bold; }\n"
               "#banner { background: %3; color: %4; border: 1px solid %2; border-radius: 6px; padding: 8px; }\n"
               "#answerFrame, #timelinePanel { border: 1px solid %5; border-radius: 8px; background: %6; }\n"
               "#conversationBar { background: %7; border-radius: 8px; }\n"
               "#historyList::item { padding: 5px 4px; }\n"
               "#sendButton { background: %8; color: %9; font-weight: 600; border: none; border-radius: 6px; padding: 7px 22px; }\n"
               "#sendButton:hover { background: %10; }\n"
               "#sendButton:disabled { background: %11; color: %12; }\n")
        .arg(muted, error.name(), errorBg, readable(error, p).name(), border, base, bar, highlight.name(),
             p.color(QPalette::HighlightedText).name(), highlight.lighter(112).name(), mix(highlight, p.color(QPalette::Window), 0.6).name(),
             mix(p.color(QPalette::HighlightedText), p.color(QPalette::Window), 0.3).name());
}

} // namespace Theme
