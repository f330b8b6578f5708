#pragma once

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QString>

// The conversations this window started or attached to, newest first, persisted with
// QSettings (group "history") so they can be re-attached or replayed after a restart while
// the server still keeps them (streams expire after their TTL).
class ConversationHistory : public QObject
{
    Q_OBJECT
public:
    struct Entry
    {
        QByteArray id;
        QString prompt;
        QString server; // base URL, or empty for the embedded server
        QDateTime created;
    };

    explicit ConversationHistory(QObject *parent = nullptr);

    const QList<Entry> &entries() const { return m_entries; }
    void add(const Entry &entry); // moves an existing id to the top
    void remove(const QByteArray &id);
    void clear();
    static constexpr int kMaxEntries = 50;

Q_SIGNALS:
    void changed();

private:
    void load();
    void save() const;
    QList<Entry> m_entries;
};
