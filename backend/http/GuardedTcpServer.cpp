#include "http/GuardedTcpServer.h"

#include "http/ConnectionGuard.h"

#include <QFile>
#include <QTcpSocket>

GuardedTcpServer::GuardedTcpServer(const Limits &limits, QObject *parent)
    : QTcpServer(parent)
    , m_limits(limits)
{
    setListenBacklogSize(systemListenBacklog());
}

QTcpSocket *GuardedTcpServer::nextPendingConnection()
{
    QTcpSocket *socket = QTcpServer::nextPendingConnection();
    if (socket)
        guard(socket, m_limits);
    return socket;
}

void GuardedTcpServer::guard(QTcpSocket *socket, const Limits &limits)
{
    new ConnectionGuard(socket, limits); // owned by the socket
}

void GuardedTcpServer::requestHandled(QTcpSocket *socket)
{
    if (ConnectionGuard *guard = ConnectionGuard::of(socket))
        guard->requestDispatched();
}

void GuardedTcpServer::streamingStarted(QTcpSocket *socket)
{
    if (ConnectionGuard *guard = ConnectionGuard::of(socket))
        guard->streamingStarted();
}

GuardedTcpServer::ResponseMode GuardedTcpServer::responseMode(QTcpSocket *socket)
{
    const ConnectionGuard *guard = socket ? ConnectionGuard::of(socket) : nullptr;
    return guard ? guard->responseMode() : ResponseMode{};
}

int GuardedTcpServer::systemListenBacklog()
{
    static const int backlog = [] {
        QFile file(QStringLiteral("/proc/sys/net/core/somaxconn"));
        bool ok = false;
        const int n = file.open(QIODevice::ReadOnly) ? file.readAll().trimmed().toInt(&ok) : 0;
        return ok && n > 0 ? n : 4096;
    }();
    return backlog;
}
