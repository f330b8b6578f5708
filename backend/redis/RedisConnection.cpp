#include "redis/RedisConnection.h"

#include "redis/RedisEntraToken.h"
#include "redis/RespCommand.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QLocalSocket>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslSocket>
#include <QSocketNotifier>
#include <QTcpSocket>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

Q_LOGGING_CATEGORY(lcRedis, "agentstreams.redis")

namespace {
constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 3000;

QByteArray format(const QList<QByteArray> &args)
{
    qsizetype bytes = 16;
    for (const QByteArray &a : args)
        bytes += a.size() + 16;
    RespCommand cmd(bytes);
    for (const QByteArray &a : args)
        cmd.arg(a);
    return cmd.finish().toByteArray();
}

// The block time of a blocking read (XREAD ... BLOCK <ms> ...): its reply may take that long
// on top of the usual deadline. 0 for any other command; -1 for BLOCK 0 (forever).
qint64 blockMsOf(const QList<QByteArray> &args)
{
    if (args.isEmpty() || args.first().compare("XREAD", Qt::CaseInsensitive) != 0)
        return 0;
    for (qsizetype i = 1; i + 1 < args.size(); ++i) {
        if (args.at(i).compare("BLOCK", Qt::CaseInsensitive) == 0) {
            const qint64 ms = args.at(i + 1).toLongLong();
            return ms == 0 ? -1 : ms;
        }
    }
    return 0;
}

// The channel of `(S|P)UNSUBSCRIBE <channel>`: its reply is ["sunsubscribe", channel, count],
// which the server also sends unasked when a shard channel's slot leaves the node.
QByteArray unsubscribedChannel(const QList<QByteArray> &args)
{
    if (args.size() != 2)
        return {};
    const QByteArray &cmd = args.first();
    for (const char *name : {"SUNSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE"})
        if (cmd.compare(name, Qt::CaseInsensitive) == 0)
            return args.at(1);
    return {};
}

QByteArray readFile(const QString &path, QString *error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(path, f.errorString());
        return {};
    }
    return f.readAll();
}
} // namespace

RedisConnection::RedisConnection(const RedisConfig &config, const QString &name, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_name(name)
{
    if (m_config.endpoints.isEmpty())
        m_config.endpoints = {{m_config.host, m_config.port}};
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &RedisConnection::startConnect);
    m_connectTimer.setSingleShot(true);
    connect(&m_connectTimer, &QTimer::timeout, this, [this] {
        auto *tls = qobject_cast<QSslSocket *>(m_device);
        if (tls && tls->state() == QAbstractSocket::ConnectedState && !tls->isEncrypted())
            lost({RedisError::Kind::Timeout, QStringLiteral("TLS handshake with %1 did not complete within %2 ms (is it a TLS port?)")
                                                 .arg(peer())
                                                 .arg(m_config.connectTimeoutMs)});
        else
            lost({RedisError::Kind::Timeout, QStringLiteral("no connection to %1 within %2 ms").arg(peer()).arg(m_config.connectTimeoutMs)});
    });
    // The oldest call is the one whose reply comes next: checked a few times per timeout.
    m_reauthTimer.setSingleShot(true);
    connect(&m_reauthTimer, &QTimer::timeout, this, &RedisConnection::reauthenticate);
    m_deadlineTimer.setInterval(std::clamp(m_config.commandTimeoutMs / 4, 20, 500));
    connect(&m_deadlineTimer, &QTimer::timeout, this, &RedisConnection::checkDeadlines);
}

RedisConnection::~RedisConnection()
{
    m_wanted = false;
    m_calls.clear(); // dropped without calling them
    dropTransport();
}

qint64 RedisConnection::nowMs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
}

QString RedisConnection::peer() const
{
    if (m_config.isUnix())
        return QStringLiteral("unix://%1").arg(m_config.unixPath);
    return QStringLiteral("%1:%2").arg(m_peerHost).arg(m_peerPort);
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
    if (m_device)
        lost({RedisError::Kind::Closed, QStringLiteral("connection closed")});
}

void RedisConnection::reconnect(const QString &why)
{
    if (m_device)
        lost({RedisError::Kind::Closed, why});
}

void RedisConnection::startConnect()
{
    if (!m_wanted || m_device)
        return;
    m_connectTimer.start(m_config.connectTimeoutMs);
    const auto &endpoint = m_config.endpoints.at(m_endpoint % m_config.endpoints.size());
    m_state = m_config.isSentinel() && !m_config.isUnix() ? State::Resolving : State::Connecting;
    connectTo(endpoint.first, endpoint.second);
}

void RedisConnection::connectTo(const QString &host, int port)
{
    m_peerHost = host;
    m_peerPort = port;
    const quint64 generation = m_generation;
    auto failed = [this, generation](const RedisError &error) {
        if (generation == m_generation)
            lost(error);
    };
    if (m_config.isUnix()) {
        auto *socket = new QLocalSocket(this);
        m_device = socket;
        connect(socket, &QLocalSocket::connected, this, &RedisConnection::onTransportUp);
        connect(socket, &QLocalSocket::readyRead, this, &RedisConnection::onReadyRead);
        connect(socket, &QLocalSocket::errorOccurred, this, [socket, failed](QLocalSocket::LocalSocketError) {
            failed({RedisError::Kind::Io, socket->errorString()});
        });
        connect(socket, &QLocalSocket::disconnected, this, [failed] {
            failed({RedisError::Kind::Closed, QStringLiteral("server closed the connection")});
        });
        socket->connectToServer(m_config.unixPath);
        return;
    }
    // TLS only to the data nodes: sentinels are asked in plaintext unless the string says TLS.
    if (m_config.tls) {
        auto *socket = new QSslSocket(this);
        m_device = socket;
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        QString error;
        if (!m_config.tlsCaFile.isEmpty()) {
            const auto cas = QSslCertificate::fromData(readFile(m_config.tlsCaFile, &error), QSsl::Pem);
            if (cas.isEmpty() && error.isEmpty())
                error = QStringLiteral("no PEM certificate in %1").arg(m_config.tlsCaFile);
            tls.addCaCertificates(cas);
        }
        if (!m_config.tlsCertFile.isEmpty()) {
            const auto certs = QSslCertificate::fromData(readFile(m_config.tlsCertFile, &error), QSsl::Pem);
            const QByteArray keyPem = readFile(m_config.tlsKeyFile.isEmpty() ? m_config.tlsCertFile : m_config.tlsKeyFile, &error);
            QSslKey key(keyPem, QSsl::Rsa);
            if (key.isNull())
                key = QSslKey(keyPem, QSsl::Ec);
            if (certs.isEmpty() || key.isNull()) {
                if (error.isEmpty())
                    error = QStringLiteral("--redis-cert/--redis-key: no PEM certificate and private key in %1 / %2")
                                .arg(m_config.tlsCertFile, m_config.tlsKeyFile);
            } else {
                tls.setLocalCertificate(certs.first());
                tls.setPrivateKey(key);
            }
        }
        if (!error.isEmpty()) {
            QMetaObject::invokeMethod(this, [failed, error] { failed({RedisError::Kind::Config, error}); }, Qt::QueuedConnection);
            return;
        }
        tls.setPeerVerifyMode(m_config.tlsInsecure ? QSslSocket::VerifyNone : QSslSocket::VerifyPeer);
        socket->setSslConfiguration(tls);
        connect(socket, &QSslSocket::encrypted, this, &RedisConnection::onTransportUp);
        connect(socket, &QSslSocket::sslErrors, this, [this, socket, failed](const QList<QSslError> &errors) {
            if (m_config.tlsInsecure) {
                socket->ignoreSslErrors();
                return;
            }
            QStringList reasons;
            for (const QSslError &e : errors)
                reasons << e.errorString();
            failed({RedisError::Kind::Io, QStringLiteral("TLS: the certificate of %1 is not accepted: %2 (add its CA with --redis-ca)")
                                              .arg(peer(), reasons.join(QStringLiteral("; ")))});
        });
        connect(socket, &QSslSocket::readyRead, this, &RedisConnection::onReadyRead);
        connect(socket, &QAbstractSocket::errorOccurred, this, [this, socket, failed](QAbstractSocket::SocketError code) {
            const QString why = code == QAbstractSocket::SslHandshakeFailedError
                ? QStringLiteral("TLS handshake with %1 failed (is it a TLS port?): %2").arg(peer(), socket->errorString())
                : socket->errorString();
            failed({RedisError::Kind::Io, why});
        });
        connect(socket, &QAbstractSocket::disconnected, this, [failed] {
            failed({RedisError::Kind::Closed, QStringLiteral("server closed the connection")});
        });
        const QString verifyName = m_config.tlsServerName.isEmpty() || m_state == State::Resolving ? host : m_config.tlsServerName;
        socket->connectToHostEncrypted(host, quint16(port), verifyName);
        return;
    }
    auto *socket = new QTcpSocket(this);
    m_device = socket;
    connect(socket, &QTcpSocket::connected, this, &RedisConnection::onTransportUp);
    connect(socket, &QTcpSocket::readyRead, this, &RedisConnection::onReadyRead);
    connect(socket, &QAbstractSocket::errorOccurred, this, [socket, failed](QAbstractSocket::SocketError) {
        failed({RedisError::Kind::Io, socket->errorString()});
    });
    connect(socket, &QAbstractSocket::disconnected, this, [failed] {
        failed({RedisError::Kind::Closed, QStringLiteral("server closed the connection")});
    });
    socket->connectToHost(host, quint16(port));
}

void RedisConnection::onTransportUp()
{
    if (auto *socket = qobject_cast<QAbstractSocket *>(m_device)) {
        // Small commands and replies, many per second: no Nagle delay (hiredis does the same).
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
        if (!qobject_cast<QSslSocket *>(socket))
            takeOverDescriptor();
    }
    if (m_state == State::Resolving)
        resolveThroughSentinel();
    else
        handshake();
}

// Plain TCP carries many small commands and replies a second: QTcpSocket would copy every
// reply into its buffer before we read it, and write each command on a later event-loop pass
// through a notifier it arms and disarms. Once connected, the descriptor is read with recv()
// straight into the parser, and commands go out with send() at once (what the kernel does not
// take waits in m_out for a write notifier). The QTcpSocket stays the owner of the descriptor
// (it closes it); its own read notifier is switched off.
void RedisConnection::takeOverDescriptor()
{
    auto *socket = qobject_cast<QTcpSocket *>(m_device);
    if (!socket || socket->bytesAvailable() > 0 || socket->bytesToWrite() > 0)
        return; // (nothing is sent before the transport is up, so both are 0)
    m_fd = int(socket->socketDescriptor());
    const auto notifiers = socket->findChildren<QSocketNotifier *>();
    for (QSocketNotifier *n : notifiers)
        if (n->type() == QSocketNotifier::Read && n->socket() == m_fd)
            n->setEnabled(false);
    m_readNotifier = new QSocketNotifier(m_fd, QSocketNotifier::Read, this);
    connect(m_readNotifier, &QSocketNotifier::activated, this, &RedisConnection::onRawReadable);
    m_writeNotifier = new QSocketNotifier(m_fd, QSocketNotifier::Write, this);
    m_writeNotifier->setEnabled(false);
    connect(m_writeNotifier, &QSocketNotifier::activated, this, &RedisConnection::flushRaw);
}

void RedisConnection::flushRaw()
{
    while (!m_out.isEmpty()) {
        const ssize_t n = ::send(m_fd, m_out.constData(), size_t(m_out.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            m_out.remove(0, n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        lost({RedisError::Kind::Io, QStringLiteral("writing to %1: %2").arg(peer(), QString::fromLocal8Bit(std::strerror(errno)))});
        return;
    }
    if (m_writeNotifier)
        m_writeNotifier->setEnabled(!m_out.isEmpty());
}

void RedisConnection::onRawReadable()
{
    const quint64 generation = m_generation;
    if (m_freshReader) {
        m_resp.reset();
        m_freshReader = false;
    }
    char buffer[64 * 1024];
    for (;;) {
        const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n == 0) {
            lost({RedisError::Kind::Closed, QStringLiteral("server closed the connection")});
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            lost({RedisError::Kind::Io, QStringLiteral("reading from %1: %2").arg(peer(), QString::fromLocal8Bit(std::strerror(errno)))});
            return;
        }
        if (!feedReplies(buffer, size_t(n), generation))
            return;
        if (size_t(n) < sizeof buffer)
            return; // the kernel had no more: the next byte wakes the notifier again
    }
}

void RedisConnection::resolveThroughSentinel()
{
    if (!m_config.sentinelPassword.isEmpty())
        send(format({"AUTH", m_config.sentinelPassword.toUtf8()}), {}, 0);
    const QString sentinel = peer();
    PendingCall ask;
    ask.cb = [this, sentinel](const RedisReply &reply, const RedisError &error) {
        if (m_state != State::Resolving)
            return; // the connection to the sentinel went first
        if (error.isError() || reply.elements.size() != 2) {
            lost({error.isError() ? error.kind : RedisError::Kind::Other,
                  error.isError() ? QStringLiteral("sentinel %1: %2").arg(sentinel, error.message)
                                  : QStringLiteral("sentinel %1 does not know a master named \"%2\"").arg(sentinel, m_config.sentinelMaster)});
            return;
        }
        const QString host = QString::fromUtf8(reply.elements.at(0).str);
        const int port = reply.elements.at(1).str.toInt();
        qCInfo(lcRedis).noquote() << m_name << "sentinel" << sentinel << "says the primary of" << m_config.sentinelMaster << "is"
                                  << QStringLiteral("%1:%2").arg(host).arg(port);
        // Leave the sentinel; the reply loop stops (new generation) and the primary follows.
        dropTransport();
        m_state = State::Connecting;
        connectTo(host, port);
    };
    send(format({"SENTINEL", "get-master-addr-by-name", m_config.sentinelMaster.toUtf8()}), std::move(ask), 0);
}

void RedisConnection::handshake()
{
    m_state = State::Handshake;
    if (!m_config.azureCli || !m_config.password.isEmpty() || m_config.isUnix()) {
        sendHandshake();
        return;
    }
    const quint64 generation = m_generation;
    RedisEntraToken::fetch(this, [this, generation](const RedisEntraToken::Token &token, const QString &error) {
        if (generation != m_generation || m_state != State::Handshake)
            return;
        if (!error.isEmpty()) {
            lost({RedisError::Kind::Config, error});
            return;
        }
        m_tokenUser = token.user;
        m_token = token.token;
        m_reauthTimer.start(int(std::clamp<qint64>(RedisEntraToken::refreshAtMs(token) - QDateTime::currentMSecsSinceEpoch(), 1000, 24 * 3600 * 1000)));
        sendHandshake();
    });
}

void RedisConnection::reauthenticate()
{
    if (m_state != State::Ready)
        return;
    const quint64 generation = m_generation;
    RedisEntraToken::fetch(this, [this, generation](const RedisEntraToken::Token &token, const QString &error) {
        if (generation != m_generation || m_state != State::Ready)
            return;
        if (!error.isEmpty()) {
            qCWarning(lcRedis).noquote() << m_name << "cannot renew the Entra ID token:" << error << "- trying again in 30 s";
            m_reauthTimer.start(30000);
            return;
        }
        m_tokenUser = token.user;
        m_token = token.token;
        m_reauthTimer.start(int(std::clamp<qint64>(RedisEntraToken::refreshAtMs(token) - QDateTime::currentMSecsSinceEpoch(), 1000, 24 * 3600 * 1000)));
        command({"AUTH", m_tokenUser.toUtf8(), m_token.toUtf8()}, [this](const RedisReply &, const RedisError &e) {
            if (e.kind == RedisError::Kind::Reply)
                reconnect(QStringLiteral("re-authentication with a fresh Entra ID token failed: %1").arg(e.message));
        });
    });
}

void RedisConnection::sendHandshake()
{
    const QString user = m_token.isEmpty() ? m_config.user : m_tokenUser;
    const QString password = m_token.isEmpty() ? m_config.password : m_token;
    if (!password.isEmpty()) {
        QList<QByteArray> auth{"AUTH"};
        if (!user.isEmpty())
            auth << user.toUtf8();
        auth << password.toUtf8();
        PendingCall call;
        call.cb = [this](const RedisReply &, const RedisError &error) {
            if (m_state == State::Handshake && error.kind == RedisError::Kind::Reply)
                lost({RedisError::Kind::Reply, QStringLiteral("authentication failed: %1").arg(error.message)});
        };
        send(format(auth), std::move(call), 0);
    }
    if (m_config.database != 0) {
        PendingCall call;
        call.cb = [this](const RedisReply &, const RedisError &error) {
            if (m_state == State::Handshake && error.kind == RedisError::Kind::Reply)
                lost({RedisError::Kind::Reply, QStringLiteral("SELECT %1 failed: %2").arg(m_config.database).arg(error.message)});
        };
        send(format({"SELECT", QByteArray::number(m_config.database)}), std::move(call), 0);
    }
    if (m_config.isSentinel()) {
        // What the sentinels said may be old news: only a primary takes writes.
        PendingCall call;
        call.cb = [this](const RedisReply &reply, const RedisError &error) {
            if (m_state != State::Handshake)
                return;
            if (error.isError() || reply.elements.isEmpty() || reply.elements.first().str != "master")
                lost({RedisError::Kind::Other, QStringLiteral("%1 is not the primary (ROLE: %2); asking the sentinels again")
                                                   .arg(peer(), error.isError() ? error.message : QString::fromUtf8(reply.elements.value(0).str))});
        };
        send(format({"ROLE"}), std::move(call), 0);
    }
    PendingCall id;
    id.cb = [this](const RedisReply &reply, const RedisError &error) {
        if (m_state != State::Handshake)
            return;
        if (error.isError()) {
            lost({error.kind, QStringLiteral("CLIENT ID failed: %1").arg(error.message)});
            return;
        }
        m_connectTimer.stop();
        m_clientId = reply.integer;
        m_state = State::Ready;
        m_backoffMs = 0;
        if (m_everConnected)
            ++m_reconnects;
        m_everConnected = true;
        m_deadlineTimer.start();
        qCInfo(lcRedis).noquote() << m_name << "connected to" << (m_config.isSentinel() ? peer() + QStringLiteral(" (primary of ") + m_config.sentinelMaster + ')' : m_config.describe());
        Q_EMIT connected();
    };
    send(format({"CLIENT", "ID"}), std::move(id), 0);
}

bool RedisConnection::refuse(const Callback &cb, const RawCallback &raw)
{
    const RedisError error{RedisError::Kind::Closed, QStringLiteral("not connected to Redis (%1)").arg(m_lastError.message)};
    if (cb)
        cb(RedisReply{}, error);
    if (raw)
        raw(nullptr, error);
    return false;
}

bool RedisConnection::command(const QList<QByteArray> &args, Callback cb)
{
    if (m_state != State::Ready)
        return refuse(cb, {});
    PendingCall call;
    call.cb = std::move(cb);
    call.unsubscribes = unsubscribedChannel(args);
    return send(format(args), std::move(call), blockMsOf(args));
}

bool RedisConnection::commandRaw(const QList<QByteArray> &args, RawCallback cb)
{
    if (m_state != State::Ready)
        return refuse({}, cb);
    PendingCall call;
    call.raw = std::move(cb);
    call.unsubscribes = unsubscribedChannel(args);
    return send(format(args), std::move(call), blockMsOf(args));
}

bool RedisConnection::commandFormatted(QByteArrayView resp, RawCallback cb)
{
    if (m_state != State::Ready)
        return refuse({}, cb);
    PendingCall call;
    call.raw = std::move(cb);
    return send(resp, std::move(call), 0);
}

bool RedisConnection::send(QByteArrayView resp, PendingCall call, qint64 blockMs)
{
    if (!m_device)
        return refuse(call.cb, call.raw);
    call.deadlineMs = blockMs < 0 ? 0 : nowMs() + blockMs + m_config.commandTimeoutMs;
    m_calls.push_back(std::move(call)); // first: a failed send below fails it with the rest
    if (m_fd < 0) {
        m_device->write(resp.data(), resp.size());
        return true;
    }
    if (m_out.isEmpty()) {
        const ssize_t n = ::send(m_fd, resp.data(), size_t(resp.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == resp.size())
            return true;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            const RedisError error{RedisError::Kind::Io, QStringLiteral("writing to %1: %2").arg(peer(), QString::fromLocal8Bit(std::strerror(errno)))};
            QMetaObject::invokeMethod(this, [this, error, generation = m_generation] {
                if (generation == m_generation)
                    lost(error); // not from inside send(): the caller still holds its state
            }, Qt::QueuedConnection);
            return true;
        }
        m_out.append(resp.data() + qMax<ssize_t>(n, 0), resp.size() - qMax<ssize_t>(n, 0));
    } else {
        m_out.append(resp.data(), resp.size());
    }
    m_writeNotifier->setEnabled(true);
    return true;
}

bool RedisConnection::isPush(const redisReply *r, const PendingCall *front) const
{
    if (!m_push || m_state != State::Ready)
        return false;
    if (!front)
        return true;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_STRING)
        return false;
    const QByteArrayView kind(r->element[0]->str, qsizetype(r->element[0]->len));
    if (kind == "smessage" || kind == "message" || kind == "pmessage")
        return true; // no command is answered by a message
    if (kind == "sunsubscribe" || kind == "unsubscribe" || kind == "punsubscribe") {
        // The answer to the oldest call only if that call unsubscribes this very channel; else
        // the server dropped a subscription by itself. (If it did so for the channel we are
        // unsubscribing, our own reply then comes unmatched and goes to the handler too.)
        const redisReply *channel = r->element[1];
        const QByteArrayView name = channel->type == REDIS_REPLY_STRING ? QByteArrayView(channel->str, qsizetype(channel->len)) : QByteArrayView();
        return front->unsubscribes != name;
    }
    return false;
}

bool RedisConnection::feedReplies(const char *data, size_t size, quint64 generation)
{
    auto onReply = [this, generation](redisReply *reply) {
        if (isPush(reply, m_calls.empty() ? nullptr : &m_calls.front())) {
            m_push(RedisReply::fromHiredis(reply));
            return generation == m_generation;
        }
        if (m_calls.empty()) {
            lost({RedisError::Kind::Protocol, QStringLiteral("%1 sent a reply nobody asked for").arg(peer())});
            return false;
        }
        PendingCall call = std::move(m_calls.front());
        m_calls.pop_front();
        deliver(call, reply);
        return generation == m_generation; // false: the callback reset or closed the connection
    };
    if (!m_resp.feed(data, size, onReply)) {
        if (generation == m_generation)
            lost({RedisError::Kind::Protocol, QStringLiteral("malformed reply from %1: %2").arg(peer(), m_resp.error())});
        return false;
    }
    return generation == m_generation;
}

void RedisConnection::onReadyRead()
{
    const quint64 generation = m_generation;
    if (m_freshReader) { // bytes of a new connection: nothing of the old one may remain
        m_resp.reset();
        m_freshReader = false;
    }
    while (m_device && generation == m_generation && m_device->bytesAvailable() > 0) {
        char buffer[64 * 1024];
        const qint64 n = m_device->read(buffer, sizeof buffer);
        if (n <= 0)
            break;
        if (!feedReplies(buffer, size_t(n), generation))
            return;
    }
}

void RedisConnection::deliver(PendingCall &call, redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR && m_config.isSentinel() && qstrncmp(r->str, "READONLY", 8) == 0 && m_state == State::Ready) {
        // The primary became a replica (failover): the caller retries (a transient error),
        // and this connection asks the sentinels where the primary is now.
        const quint64 generation = m_generation;
        QMetaObject::invokeMethod(this, [this, generation] {
            if (generation == m_generation)
                lost({RedisError::Kind::Closed, QStringLiteral("%1 is read-only now (failover); asking the sentinels again").arg(peer())});
        }, Qt::QueuedConnection);
    }
    if (call.raw) {
        if (r->type == REDIS_REPLY_ERROR)
            call.raw(nullptr, {RedisError::Kind::Reply, QString::fromUtf8(r->str, int(r->len))});
        else
            call.raw(r, {});
        return;
    }
    if (!call.cb)
        return;
    const RedisReply copy = RedisReply::fromHiredis(r);
    call.cb(copy, redisErrorFromReply(copy));
}

void RedisConnection::checkDeadlines()
{
    if (m_calls.empty())
        return;
    const qint64 deadline = m_calls.front().deadlineMs;
    if (deadline > 0 && nowMs() > deadline)
        lost({RedisError::Kind::Timeout, QStringLiteral("no reply from %1 within %2 ms (--redis-timeout-ms); reconnecting")
                                             .arg(peer())
                                             .arg(m_config.commandTimeoutMs)});
}

void RedisConnection::dropTransport()
{
    ++m_generation;
    m_connectTimer.stop();
    m_reauthTimer.stop();
    // Our notifiers first: the QTcpSocket closes the descriptor when it goes.
    for (QSocketNotifier *n : {m_readNotifier, m_writeNotifier}) {
        if (n) {
            n->setEnabled(false);
            n->disconnect(this);
            n->deleteLater(); // we may be inside its activated signal
        }
    }
    m_readNotifier = nullptr;
    m_writeNotifier = nullptr;
    m_fd = -1;
    m_out.clear();
    m_deadlineTimer.stop();
    if (m_device) {
        QIODevice *device = m_device;
        m_device = nullptr;
        device->disconnect(this);
        if (auto *socket = qobject_cast<QAbstractSocket *>(device))
            socket->abort();
        else if (auto *local = qobject_cast<QLocalSocket *>(device))
            local->abort();
        device->deleteLater(); // we may be inside one of its signals
    }
    m_freshReader = true; // reset before the next connection's first bytes (maybe inside a reply callback now)
}

void RedisConnection::lost(const RedisError &error)
{
    const bool wasReady = m_state == State::Ready;
    // Try the next endpoint: any failure without Sentinel, a sentinel that did not answer.
    if (!m_config.isSentinel() || m_state == State::Resolving)
        ++m_endpoint;
    dropTransport();
    m_state = State::Idle;
    m_clientId = -1;
    m_lastError = error;
    if (wasReady || !m_everConnected)
        qCWarning(lcRedis).noquote() << m_name << "Redis at" << (m_peerHost.isEmpty() ? m_config.describe() : peer()) << "unavailable:"
                                     << error.message << (m_wanted ? "- retrying" : "");
    // Every call still out fails, in order, as hiredis did; they may issue commands (refused).
    std::deque<PendingCall> calls;
    calls.swap(m_calls);
    for (PendingCall &call : calls) {
        if (call.cb)
            call.cb(RedisReply{}, error);
        else if (call.raw)
            call.raw(nullptr, error);
    }
    Q_EMIT disconnected(error);
    scheduleReconnect();
}

void RedisConnection::scheduleReconnect()
{
    if (!m_wanted || m_retryTimer.isActive())
        return;
    m_backoffMs = m_backoffMs == 0 ? kFirstBackoffMs : qMin(m_backoffMs * 2, kMaxBackoffMs);
    const int jitter = int(QRandomGenerator::global()->bounded(m_backoffMs / 4 + 1));
    m_retryTimer.start(m_backoffMs + jitter);
}
