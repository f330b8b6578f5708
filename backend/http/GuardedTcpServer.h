#pragma once

#include <QSslServer>
#include <QTcpServer>

// The listening socket of the API, with limits applied before QHttpServer buffers anything:
// a connection must deliver each request's header block within requestTimeoutMs (slow-loris),
// the header block may be at most maxHeaderBytes (431) and a declared body at most
// maxBodyBytes (413). Streaming responses are exempt once they start.
class GuardedTcpServer : public QTcpServer
{
    Q_OBJECT
public:
    struct Limits
    {
        int requestTimeoutMs = 10000;
        qint64 maxHeaderBytes = 16 * 1024;
        qint64 maxBodyBytes = 1 << 20;
    };
    explicit GuardedTcpServer(const Limits &limits, QObject *parent = nullptr);
    QTcpSocket *nextPendingConnection() override;

    // Called by the API when a request on this socket is complete (resets the guard).
    static void requestHandled(QTcpSocket *socket);
    // Called when a streaming response takes the socket over (lifts the deadline).
    static void streamingStarted(QTcpSocket *socket);
    // Puts the guard on a new connection (shared with the TLS variant).
    static void guard(QTcpSocket *socket, const Limits &limits);

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
