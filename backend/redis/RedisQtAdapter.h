#pragma once

#include <QObject>

struct redisAsyncContext;
class QSocketNotifier;

// Drives one hiredis async context from the Qt event loop with two QSocketNotifiers.
// Ownership: hiredis owns the adapter through ac->ev.data; its cleanup hook (called from
// inside redisAsyncFree, possibly while one of our notifiers is emitting) detaches the
// adapter and schedules its deletion, so nothing is freed under a running slot.
class RedisQtAdapter : public QObject
{
    Q_OBJECT
public:
    // Installs the hooks on ac. Returns false when ac already has an event library.
    static bool attach(redisAsyncContext *ac);

private:
    explicit RedisQtAdapter(redisAsyncContext *ac);
    static void addRead(void *self);
    static void delRead(void *self);
    static void addWrite(void *self);
    static void delWrite(void *self);
    static void cleanup(void *self);
    void onReadable();
    void onWritable();

    redisAsyncContext *m_ac;
    QSocketNotifier *m_read;
    QSocketNotifier *m_write;
};
