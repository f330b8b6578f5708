#include "ConversationHistory.h"

#include <QSettings>

ConversationHistory::ConversationHistory(QObject *parent)
    : QObject(parent)
{
    load();
}

void ConversationHistory::add(const Entry &entry)
{
    remove(entry.id);
    m_entries.prepend(entry);
    while (m_entries.size() > kMaxEntries)
        m_entries.removeLast();
    save();
    Q_EMIT changed();
}

void ConversationHistory::remove(const QByteArray &id)
{
    const auto removed = m_entries.removeIf([&id](const Entry &e) { return e.id == id; });
    if (removed) {
        save();
        Q_EMIT changed();
    }
}

void ConversationHistory::clear()
{
    m_entries.clear();
    save();
    Q_EMIT changed();
}

void ConversationHistory::load()
{
    QSettings s;
    const int n = s.beginReadArray(QStringLiteral("history"));
    for (int i = 0; i < n && i < kMaxEntries; ++i) {
        s.setArrayIndex(i);
        Entry e;
        e.id = s.value(QStringLiteral("id")).toByteArray();
        e.prompt = s.value(QStringLiteral("prompt")).toString();
        e.server = s.value(QStringLiteral("server")).toString();
        e.created = s.value(QStringLiteral("created")).toDateTime();
        if (!e.id.isEmpty())
            m_entries.append(e);
    }
    s.endArray();
}

void ConversationHistory::save() const
{
    QSettings s;
    s.remove(QStringLiteral("history"));
    s.beginWriteArray(QStringLiteral("history"), int(m_entries.size()));
    for (int i = 0; i < m_entries.size(); ++i) {
        s.setArrayIndex(i);
        const Entry &e = m_entries.at(i);
        s.setValue(QStringLiteral("id"), e.id);
        s.setValue(QStringLiteral("prompt"), e.prompt);
        s.setValue(QStringLiteral("server"), e.server);
        s.setValue(QStringLiteral("created"), e.created);
    }
    s.endArray();
}
