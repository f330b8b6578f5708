#pragma once

#include "redis/RedisConfig.h"
#include "redis/RedisError.h"
#include "redis/RedisReply.h"
#include "redis/RespReader.h"

#include <QList>
#include <QObject>
#include <QTimer>
#include <deque>
#include <functional>
#include <memory>

class QIODevice;

// One asynchronous Redis connection on the current thread's event loop: our own transport
// (QTcpSocket, QSslSocket for TLS, QLocalSocket for unix sockets) with hiredis used only as
// the RESP parser (redisReader, building replies in the reply arena). AUTH/SELECT on connect,
// reconnect with capped exponential backoff over every endpoint of the configuration, the
// primary found through Sentinel when one is configured, and deadlines of our own:
//  - connect: the TCP/TLS connection and the handshake within config.connectTimeoutMs;
//  - commands: a reply within config.commandTimeoutMs (a blocking XREAD: its block time on
//    top); a command past its deadline fails with Kind::Timeout, and the connection is reset
//    and established again (a late reply could no longer be matched to its command).
//
//   auto *c = new RedisConnection(cfg, "writer", this);
//   connect(c, &RedisConnection::connected, ...);
//   c->open();
//   c->command({"XADD", key, "*", "text", "hi"}, [](const RedisReply &r, const RedisError &e) {...});
//
// Commands issued while not connected fail at once with Kind::Closed (callers own their
// retry policy). Callbacks run on this object's thread, in command order; a callback may issue
// commands. When the connection is lost, every pending callback is called with the error.
// Deleting the connection drops pending callbacks without calling them.
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
    int pendingCommands() const { return int(m_calls.size()); }
    const QString &name() const { return m_name; }
    const RedisError &lastError() const { return m_lastError; }
    // The server this connection talks to now (after Sentinel resolution), for logs.
    QString peer() const;
    const QString &peerHost() const { return m_peerHost; }
    int peerPort() const { return m_peerPort; }

    // Drops the connection now and connects again (through the sentinels when configured):
    // e.g. the sentinels announced a new primary. Pending commands fail with `why`.
    void reconnect(const QString &why);
    // Subscriber connections: pub/sub messages (message, smessage, pmessage) go here always,
    // even while a command is pending (a message can arrive before the reply to an SSUBSCRIBE),
    // and so does an unsubscribe the server sends by itself (a shard channel's slot left the
    // node: `sunsubscribe`). Any other reply that answers no command goes here too instead of
    // being a protocol error. Send (S|P)SUBSCRIBE / (S|P)UNSUBSCRIBE with ONE channel each:
    // one command, one reply, so that replies stay matched to commands.
    void setPushHandler(std::function<void(const RedisReply &message)> handler) { m_push = std::move(handler); }

    // Returns false (and calls cb with the error) when the command could not be queued.
    bool command(const QList<QByteArray> &args, Callback cb = {});
    bool commandRaw(const QList<QByteArray> &args, RawCallback cb);
    // A command already in RESP form (see RespCommand); copied into the socket's buffer.
    bool commandFormatted(QByteArrayView resp, RawCallback cb);

Q_SIGNALS:
    void connected();
    void disconnected(const RedisError &error);

private:
    enum class State { Idle, Resolving, Connecting, Handshake, Ready };
    struct PendingCall
    {
        Callback cb;
        RawCallback raw;
        qint64 deadlineMs = 0; // monotonic ms
        QByteArray unsubscribes; // (S|P)UNSUBSCRIBE <channel>: the channel its reply names
    };
    // A reply that belongs to the push handler rather than to `front` (the oldest call).
    bool isPush(const struct redisReply *reply, const PendingCall *front) const;
    bool send(QByteArrayView resp, PendingCall call, qint64 blockMs);
    bool refuse(const Callback &cb, const RawCallback &raw);
    void startConnect();
    void resolveThroughSentinel();
    void connectTo(const QString &host, int port);
    void onTransportUp();
    void handshake();
    void sendHandshake();
    void reauthenticate();
    void onReadyRead();
    // Parses bytes and runs the callbacks of the replies they complete; false when the
    // connection went meanwhile (or the bytes were not RESP).
    bool feedReplies(const char *data, size_t size, quint64 generation);
    // Plain TCP: the connected socket's bytes bypass QTcpSocket's buffers (see onTransportUp).
    void takeOverDescriptor();
    void onRawReadable();
    void flushRaw();
    void deliver(PendingCall &call, struct redisReply *reply);
    void checkDeadlines();
    void armDeadlineTimer();
    void lost(const RedisError &error);
    void dropTransport();
    void scheduleReconnect();
    static qint64 nowMs();

    RespReader m_resp; // RESP parsing into the reply arena
    bool m_freshReader = true;
    RedisConfig m_config;
    QString m_name;
    QIODevice *m_device = nullptr; // the transport, a child of this object
    int m_fd = -1; // plain TCP once connected: read and written directly (m_device only watches)
    class QSocketNotifier *m_readNotifier = nullptr;
    class QSocketNotifier *m_writeNotifier = nullptr;
    QByteArray m_out; // bytes the kernel did not take yet (m_fd only)
    quint64 m_generation = 0; // bumped whenever the transport goes: stale callbacks stop
    std::deque<PendingCall> m_calls;
    State m_state = State::Idle;
    bool m_wanted = false;
    qint64 m_clientId = -1;
    int m_reconnects = 0;
    int m_backoffMs = 0;
    int m_endpoint = 0; // the endpoint (or sentinel) tried next
    bool m_everConnected = false;
    RedisError m_lastError;
    QString m_peerHost;
    QString m_tokenUser, m_token; // Entra ID: the oid and the token this connection uses
    int m_peerPort = 0;
    QTimer m_retryTimer;
    QTimer m_connectTimer;
    QTimer m_deadlineTimer;
    QTimer m_reauthTimer; // Entra ID: AUTH again with a fresh token before this one expires
    std::function<void(const RedisReply &)> m_push;
};
