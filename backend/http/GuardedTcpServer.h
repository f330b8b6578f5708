#pragma once

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

private:
    Limits m_limits;
};
