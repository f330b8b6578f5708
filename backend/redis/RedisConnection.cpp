#include "redis/RedisConnection.h"

#include "redis/RedisQtAdapter.h"

#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QVarLengthArray>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

Q_LOGGING_CATEGORY(lcRedis, "agentstreams.redis")

namespace {
constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 3000;
} // namespace

struct RedisConnection::PendingCall
{
    Callback cb;
    RawCallback raw;
};

RedisConnection::RedisConnection(const RedisConfig &config, const QString &name, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_name(name)
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &RedisConnection::startConnect);
}

RedisConnection::~RedisConnection()
{
    m_wanted = false;
    if (m_ac) {
        // Detach first: hiredis will call pending reply callbacks and onDisconnect while it
        // frees; with data == nullptr they only release their closures.
        m_ac->data = nullptr;
        redisAsyncFree(m_ac);
        m_ac = nullptr;
    }
}

void RedisConnection::open()
{
    m_wanted = true;
    if (m_state == State::Idle && !m_retryTimer.isActive())
        startConnect();
}

void RedisConnection::close()
{
    m_wanted = false;
    m_retryTimer.stop();
    if (m_ac)
        redisAsyncDisconnect(m_ac); // onDisconnect follows once pending replies are in
}

void RedisConnection::startConnect()
{
    if (!m_wanted || m_ac)
        return;
    redisAsyncContext *ac = m_config.isUnix()
        ? redisAsyncConnectUnix(m_config.unixPath.toLocal8Bit().constData())
        : redisAsyncConnect(m_config.host.toLocal8Bit().constData(), m_config.port);
    if (!ac) {
        lost({RedisError::Kind::Other, QStringLiteral("out of memory creating a Redis context")});
        return;
    }
    if (ac->err) {
        const RedisError error = redisErrorFromContext(ac);
        redisAsyncFree(ac);
        lost(error);
        return;
    }
    ac->data = this;
    m_arena->install(ac->c.reader);
    RedisQtAdapter::attach(ac);
    redisAsyncSetConnectCallback(ac, &RedisConnection::onConnect);
    redisAsyncSetDisconnectCallback(ac, &RedisConnection::onDisconnect);
    m_ac = ac;
    m_state = State::Connecting;
}

void RedisConnection::onConnect(const redisAsyncContext *ac, int status)
{
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (!self)
        return;
    if (status != REDIS_OK) {
        // hiredis frees the context right after this callback.
        const RedisError error = redisErrorFromContext(ac);
        self->m_ac = nullptr;
        self->lost(error);
        return;
    }
    self->handshake();
}

void RedisConnection::handshake()
{
    m_state = State::Handshake;
    if (!m_config.password.isEmpty()) {
        QList<QByteArray> auth{"AUTH"};
        if (!m_config.user.isEmpty())
            auth << m_config.user.toUtf8();
        auth << m_config.password.toUtf8();
        send(auth, [this](const RedisReply &, const RedisError &error) {
            if (error.isError() && m_ac) {
                qCWarning(lcRedis).noquote() << m_name << "authentication failed:" << error.message;
                m_lastError = {RedisError::Kind::Reply, QStringLiteral("authentication failed: %1").arg(error.message)};
                redisAsyncDisconnect(m_ac);
            }
        });
    }
    if (m_config.database != 0) {
        send({"SELECT", QByteArray::number(m_config.database)}, [this](const RedisReply &, const RedisError &error) {
            if (error.isError() && m_ac) {
                qCWarning(lcRedis).noquote() << m_name << "SELECT failed:" << error.message;
                redisAsyncDisconnect(m_ac);
            }
        });
    }
    send({"CLIENT", "ID"}, [this](const RedisReply &reply, const RedisError &error) {
        if (error.isError() || m_state != State::Handshake)
            return;
        m_clientId = reply.integer;
        m_state = State::Ready;
        m_backoffMs = 0;
        if (m_everConnected)
            ++m_reconnects;
        m_everConnected = true;
        qCInfo(lcRedis).noquote() << m_name << "connected to" << m_config.describe();
        Q_EMIT connected();
    });
}

void RedisConnection::onDisconnect(const redisAsyncContext *ac, int status)
{
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (!self)
        return;
    self->m_ac = nullptr; // hiredis frees it after this callback
    RedisError error = status == REDIS_OK ? RedisError{RedisError::Kind::Closed, QStringLiteral("connection closed")}
                                          : redisErrorFromContext(ac);
    if (self->m_lastError.kind == RedisError::Kind::Reply)
        error = self->m_lastError; // e.g. authentication failed: the more useful reason
    self->lost(error);
}

void RedisConnection::lost(const RedisError &error)
{
    const bool wasReady = m_state == State::Ready;
    m_state = State::Idle;
    m_clientId = -1;
    m_lastError = error;
    if (wasReady || !m_everConnected)
        qCWarning(lcRedis).noquote() << m_name << "Redis at" << m_config.describe() << "unavailable:" << error.message
                                     << (m_wanted ? "- retrying" : "");
    Q_EMIT disconnected(error);
    m_lastError = error;
    scheduleReconnect();
}

void RedisConnection::scheduleReconnect()
{
    if (!m_wanted)
        return;
    m_backoffMs = m_backoffMs == 0 ? kFirstBackoffMs : qMin(m_backoffMs * 2, kMaxBackoffMs);
    const int jitter = int(QRandomGenerator::global()->bounded(m_backoffMs / 4 + 1));
    m_retryTimer.start(m_backoffMs + jitter);
}

bool RedisConnection::command(const QList<QByteArray> &args, Callback cb)
{
    if (m_state != State::Ready || !m_ac) {
        if (cb)
            cb(RedisReply{}, {RedisError::Kind::Closed, QStringLiteral("not connected to Redis (%1)").arg(m_lastError.message)});
        return false;
    }
    return send(args, std::move(cb));
}

bool RedisConnection::commandRaw(const QList<QByteArray> &args, RawCallback cb)
{
    if (m_state != State::Ready || !m_ac) {
        cb(nullptr, {RedisError::Kind::Closed, QStringLiteral("not connected to Redis (%1)").arg(m_lastError.message)});
        return false;
    }
    return send(args, {}, std::move(cb));
}

bool RedisConnection::send(const QList<QByteArray> &args, Callback cb, RawCallback raw)
{
    QVarLengthArray<const char *, 16> argv;
    QVarLengthArray<size_t, 16> argvlen;
    for (const QByteArray &a : args) {
        argv.append(a.constData());
        argvlen.append(size_t(a.size()));
    }
    auto *call = new PendingCall{std::move(cb), std::move(raw)};
    return queued(redisAsyncCommandArgv(m_ac, &RedisConnection::onReply, call, int(argv.size()), argv.data(), argvlen.data()), call);
}

bool RedisConnection::commandFormatted(QByteArrayView resp, RawCallback cb)
{
    if (m_state != State::Ready || !m_ac) {
        cb(nullptr, {RedisError::Kind::Closed, QStringLiteral("not connected to Redis (%1)").arg(m_lastError.message)});
        return false;
    }
    auto *call = new PendingCall{{}, std::move(cb)};
    return queued(redisAsyncFormattedCommand(m_ac, &RedisConnection::onReply, call, resp.data(), size_t(resp.size())), call);
}

bool RedisConnection::queued(int status, PendingCall *call)
{
    if (status != REDIS_OK) {
        std::unique_ptr<PendingCall> failed(call);
        const RedisError error{RedisError::Kind::Closed, QStringLiteral("connection is closing")};
        if (failed->cb)
            failed->cb(RedisReply{}, error);
        if (failed->raw)
            failed->raw(nullptr, error);
        return false;
    }
    ++m_pending;
    return true;
}

void RedisConnection::onReply(redisAsyncContext *ac, void *reply, void *privdata)
{
    std::unique_ptr<PendingCall> call(static_cast<PendingCall *>(privdata));
    auto *self = static_cast<RedisConnection *>(ac->data);
    if (!self)
        return; // connection object is gone: drop the closure
    --self->m_pending;
    if (call->raw) {
        const auto *r = static_cast<const redisReply *>(reply);
        if (!r)
            call->raw(nullptr, redisErrorFromContext(ac));
        else if (r->type == REDIS_REPLY_ERROR)
            call->raw(nullptr, {RedisError::Kind::Reply, QString::fromUtf8(r->str, int(r->len))});
        else
            call->raw(r, {});
        return;
    }
    if (!call->cb)
        return;
    if (!reply) {
        call->cb(RedisReply{}, redisErrorFromContext(ac));
        return;
    }
    const RedisReply copy = RedisReply::fromHiredis(static_cast<redisReply *>(reply));
    call->cb(copy, redisErrorFromReply(copy));
}
