#pragma once

#include "redis/RedisConfig.h"
#include "redis/RedisError.h"
#include "redis/RedisReply.h"
#include "redis/ReplyArena.h"

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QTimer>
#include <functional>
#include <memory>

struct redisAsyncContext;

// One asynchronous Redis connection on the current thread's event loop, with AUTH/SELECT on
// connect and reconnect with capped exponential backoff.
//
//   auto *c = new RedisConnection(cfg, "writer", this);
//   connect(c, &RedisConnection::connected, ...);
//   c->open();
//   c->command({"XADD", key, "*", "text", "hi"}, [](const RedisReply &r, const RedisError &e) {...});
//
// Commands issued while not connected fail at once with Kind::Closed (callers own their
// retry policy). Callbacks run on this object's thread; a callback may issue commands. Deleting
// the connection drops pending callbacks without calling them.
class RedisConnection : public QObject
{
    Q_OBJECT
public:
    using Callback = std::function<void(const RedisReply &reply, const RedisError &error)>;
    // Gets hiredis's own reply (nullptr on error), valid only during the call: for hot paths
    // that parse straight into their own types instead of copying into RedisReply first.
    using RawCallback = std::function<void(const struct redisReply *reply, const RedisError &error)>;

    RedisConnection(const RedisConfig &config, const QString &name, QObject *parent = nullptr);
    ~RedisConnection() override;

    void open();
    void close();
    bool isConnected() const { return m_state == State::Ready; }
    // Server-side id of this connection (CLIENT ID), valid while connected; for CLIENT UNBLOCK.
    qint64 clientId() const { return m_clientId; }
    int reconnects() const { return m_reconnects; }
    int pendingCommands() const { return m_pending; }
    const QString &name() const { return m_name; }
    const RedisError &lastError() const { return m_lastError; }

    // Returns false (and calls cb with the error) when the command could not be queued.
    bool command(const QList<QByteArray> &args, Callback cb = {});
    bool commandRaw(const QList<QByteArray> &args, RawCallback cb);
    // A command already in RESP form (see RespCommand); hiredis copies it.
    bool commandFormatted(QByteArrayView resp, RawCallback cb);

Q_SIGNALS:
    void connected();
    void disconnected(const RedisError &error);

private:
    enum class State { Idle, Connecting, Handshake, Ready };
    static void onConnect(const redisAsyncContext *ac, int status);
    static void onDisconnect(const redisAsyncContext *ac, int status);
    static void onReply(redisAsyncContext *ac, void *reply, void *privdata);
    bool send(const QList<QByteArray> &args, Callback cb, RawCallback raw = {});
    struct PendingCall; // a callback waiting for its reply
    bool queued(int status, PendingCall *call);
    void startConnect();
    void handshake();
    void lost(const RedisError &error);
    void scheduleReconnect();

    // Declared first so that it is destroyed last: freeing the context frees replies into it.
    std::unique_ptr<ReplyArena> m_arena = std::make_unique<ReplyArena>();
    RedisConfig m_config;
    QString m_name;
    redisAsyncContext *m_ac = nullptr;
    State m_state = State::Idle;
    bool m_wanted = false;
    qint64 m_clientId = -1;
    int m_reconnects = 0;
    int m_pending = 0;
    int m_backoffMs = 0;
    bool m_everConnected = false;
    RedisError m_lastError;
    QTimer m_retryTimer;
};
