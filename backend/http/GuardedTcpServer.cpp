#include "http/GuardedTcpServer.h"

#include "Metrics.h"

#include <QLoggingCategory>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

Q_DECLARE_LOGGING_CATEGORY(lcHttp)

namespace {
// Per-connection state, a child of its socket. Sees each readyRead before QHttpServer does
// (its slot is connected first) and only peeks.
class ConnectionGuard : public QObject
{
public:
    ConnectionGuard(QTcpSocket *socket, const GuardedTcpServer::Limits &limits)
        : QObject(socket)
        , m_socket(socket)
        , m_limits(limits)
    {
        setObjectName(QStringLiteral("agentstreams.guard"));
        m_timer.setSingleShot(true);
        m_timer.setInterval(limits.requestTimeoutMs);
        connect(&m_timer, &QTimer::timeout, this, [this] {
            if (!m_socket->property("agentstreams.streaming").toBool())
                reject(408, "Request Timeout", "the request did not arrive in time");
        });
        connect(socket, &QTcpSocket::readyRead, this, &ConnectionGuard::inspect);
        m_timer.start();
    }
    void handled()
    {
        m_head.clear();
        m_headDone = false;
        m_timer.start(); // the next request (keep-alive) gets a fresh deadline
    }
    // A streaming response owns the socket until it closes: no deadline. (An armed timer per
    // open stream would also make every timer start in the process cost O(open streams):
    // Qt keeps active timers in one sorted list.)
    void streaming() { m_timer.stop(); }

private:
    void inspect()
    {
        if (m_socket->property("agentstreams.streaming").toBool()) {
            m_timer.stop();
            return;
        }
        if (m_headDone)
            return;
        // peek(n) allocates n bytes: ask for what is there, not for the limit.
        m_head = m_socket->peek(qMin(m_socket->bytesAvailable(), m_limits.maxHeaderBytes + 4));
        const qsizetype end = m_head.indexOf("\r\n\r\n");
        if (end < 0) {
            if (m_head.size() > m_limits.maxHeaderBytes)
                reject(431, "Request Header Fields Too Large", "the request headers are larger than the limit");
            return;
        }
        m_headDone = true;
        for (const QByteArray &line : m_head.left(end).split('\n')) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.left(colon).trimmed().compare("Content-Length", Qt::CaseInsensitive) == 0) {
                bool ok = false;
                const qint64 length = line.mid(colon + 1).trimmed().toLongLong(&ok);
                if (!ok || length < 0)
                    reject(400, "Bad Request", "invalid Content-Length");
                else if (length > m_limits.maxBodyBytes)
                    reject(413, "Payload Too Large", "the request body is larger than the limit");
                return;
            }
        }
    }
    void reject(int status, const char *reason, const char *message)
    {
        Metrics::instance().httpResponse(status);
        qCInfo(lcHttp) << "closing a connection:" << status << message;
        // Nobody else reads this socket any more: QHttpServer must not parse what is left.
        QObject::disconnect(m_socket, &QTcpSocket::readyRead, nullptr, nullptr);
        m_timer.stop();
        const QByteArray body = QByteArray(message) + '\n';
        m_socket->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason
                        + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "
                        + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        m_socket->disconnectFromHost();
    }

    QTcpSocket *m_socket;
    GuardedTcpServer::Limits m_limits;
    QTimer m_timer;
    QByteArray m_head;
    bool m_headDone = false;
};
} // namespace

GuardedTcpServer::GuardedTcpServer(const Limits &limits, QObject *parent)
    : QTcpServer(parent)
    , m_limits(limits)
{
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
    new ConnectionGuard(socket, limits);
}

void GuardedTcpServer::requestHandled(QTcpSocket *socket)
{
    if (auto *guard = socket->findChild<QObject *>(QStringLiteral("agentstreams.guard"), Qt::FindDirectChildrenOnly))
        static_cast<ConnectionGuard *>(guard)->handled();
}

void GuardedTcpServer::streamingStarted(QTcpSocket *socket)
{
    if (auto *guard = socket->findChild<QObject *>(QStringLiteral("agentstreams.guard"), Qt::FindDirectChildrenOnly))
        static_cast<ConnectionGuard *>(guard)->streaming();
}
