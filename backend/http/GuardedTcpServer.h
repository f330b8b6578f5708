#pragma once

#include <QSslServer>
#include <QStringList>
#include <QTcpServer>

#include <memory>

class AccessControl;

// The listening socket of the API, with limits applied before QHttpServer buffers anything
// (ConnectionGuard, one per connection): each request head is checked strictly (RequestHead:
// ambiguous framing, obs-fold, control characters, unknown methods and versions are refused
// with 400/411/501/505 and the connection closed), must arrive within requestTimeoutMs
// (slow-loris, 408) and be at most maxHeaderBytes (431); a body is accepted with a
// Content-Length of at most maxBodyBytes only (413; Transfer-Encoding gets 411/400); with API
// keys on, a request without a valid key gets 401 before its body is read. Connection: close
// and HTTP/1.0 close after the response; an idle connection is closed silently. Streaming
// responses are exempt once they start. The listen backlog is the system's somaxconn.
class GuardedTcpServer : public QTcpServer
{
    Q_OBJECT
public:
    struct Limits
    {
        int requestTimeoutMs = 10000;
        qint64 maxHeaderBytes = 16 * 1024;
        qint64 maxBodyBytes = 1 << 20;
        // Keys on (enabled()): every request but /healthz, /readyz and OPTIONS needs one.
        std::shared_ptr<const AccessControl> access;
        // For the CORS headers of the guard's own answers (as ApiServer sends them).
        QStringList allowedOrigins{QStringLiteral("*")};
    };
    // How a response to the request being answered on a socket is written (HttpUtil::send).
    struct ResponseMode
    {
        bool headersOnly = false;     // HEAD: no body
        bool close = false;           // the guard closes after it: say Connection: close
        bool http10KeepAlive = false; // HTTP/1.0 with keep-alive: say Connection: keep-alive
    };

    explicit GuardedTcpServer(const Limits &limits, QObject *parent = nullptr);
    QTcpSocket *nextPendingConnection() override;

    // Called by the API when a request on this socket is complete and dispatched.
    static void requestHandled(QTcpSocket *socket);
    // Called when a streaming response takes the socket over (lifts the deadline).
    static void streamingStarted(QTcpSocket *socket);
    static ResponseMode responseMode(QTcpSocket *socket);
    // Puts the guard on a new connection (shared with the TLS variant).
    static void guard(QTcpSocket *socket, const Limits &limits);
    // /proc/sys/net/core/somaxconn (the kernel caps any backlog there), else 4096. Qt's default
    // of 50 overflows when thousands of clients connect at once (SYNs dropped, retried after 1 s).
    static int systemListenBacklog();

private:
    Limits m_limits;
};

// The same guard on a TLS listener (--tls-cert/--tls-key): connections are handed to the
// HTTP server after the handshake.
class GuardedSslServer : public QSslServer
{
    Q_OBJECT
public:
    GuardedSslServer(const GuardedTcpServer::Limits &limits, QObject *parent = nullptr)
        : QSslServer(parent)
        , m_limits(limits)
    {
        setListenBacklogSize(GuardedTcpServer::systemListenBacklog());
    }
    QTcpSocket *nextPendingConnection() override
    {
        QTcpSocket *socket = QSslServer::nextPendingConnection();
        if (socket)
            GuardedTcpServer::guard(socket, m_limits);
        return socket;
    }

private:
    GuardedTcpServer::Limits m_limits;
};
