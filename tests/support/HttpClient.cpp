#include "HttpClient.h"

#include <QTest>

HttpClient::HttpClient(QObject *parent)
    : QObject(parent)
{
    connect(&m_socket, &QTcpSocket::readyRead, this, &HttpClient::onReadyRead);
    connect(&m_socket, &QTcpSocket::disconnected, this, [this] {
        onReadyRead();
        m_finished = true;
        Q_EMIT finished();
    });
    connect(&m_socket, &QTcpSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) {
        if (e != QAbstractSocket::RemoteHostClosedError && !m_finished) {
            m_finished = true;
            Q_EMIT finished();
        }
    });
}

HttpClient::~HttpClient()
{
    m_socket.disconnect(this); // the socket is destroyed after our other members
    m_socket.abort();
}

void HttpClient::request(quint16 port, const QByteArray &method, const QByteArray &target,
                         const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &body)
{
    QByteArray req = method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(port) + "\r\n";
    bool hasLength = false;
    for (const auto &h : headers) {
        req += h.first + ": " + h.second + "\r\n";
        hasLength = hasLength || h.first.compare("Content-Length", Qt::CaseInsensitive) == 0;
    }
    if (!body.isEmpty() && !hasLength)
        req += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    req += "\r\n" + body;
    sendRaw(port, req);
}

void HttpClient::sendRaw(quint16 port, const QByteArray &bytes)
{
    m_socket.connectToHost(QHostAddress::LocalHost, port);
    m_socket.write(bytes);
}

void HttpClient::setPaused(bool paused)
{
    m_paused = paused;
    m_socket.setReadBufferSize(paused ? 4096 : 0);
    if (!paused)
        QMetaObject::invokeMethod(this, &HttpClient::onReadyRead, Qt::QueuedConnection);
}

void HttpClient::abort()
{
    m_socket.abort();
    m_finished = true;
}

QByteArray HttpClient::header(const QByteArray &name) const
{
    for (const auto &h : m_headers)
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    return {};
}

QByteArray HttpClient::messageText() const
{
    QByteArray out;
    for (const Event &e : m_events)
        if (e.event == "message")
            out += e.data;
    return out;
}

void HttpClient::onReadyRead()
{
    if (m_paused)
        return;
    const QByteArray incoming = m_socket.readAll();
    m_raw += incoming;
    if (!m_headersDone) {
        const qsizetype end = m_raw.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        const QList<QByteArray> lines = m_raw.left(end).split('\n');
        const QList<QByteArray> statusParts = lines.first().trimmed().split(' ');
        m_status = statusParts.size() > 1 ? statusParts.at(1).toInt() : 0;
        for (int i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines.at(i).trimmed();
            const qsizetype colon = line.indexOf(':');
            if (colon > 0)
                m_headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
        }
        m_headersDone = true;
        m_body = m_raw.mid(end + 4);
    } else {
        m_body += incoming; // appended, not copied again from m_raw: a 12 MB stream stays linear
    }
    if (header("Content-Type").startsWith("text/event-stream"))
        parseEvents();
}

void HttpClient::parseEvents()
{
    // Only complete events (ending in a blank line) are parsed.
    qsizetype end = m_body.lastIndexOf("\n\n");
    if (end < 0 || end + 2 <= m_sseOffset)
        return;
    const QByteArray chunk = m_body.mid(m_sseOffset, end + 2 - m_sseOffset);
    m_sseOffset = end + 2;
    int retry = -1;
    int comments = 0;
    const QList<Event> parsed = parseSse(chunk, &retry, &comments);
    if (retry >= 0)
        m_retry = retry;
    m_comments += comments;
    for (const Event &e : parsed) {
        m_events.append(e);
        Q_EMIT eventReceived(e);
    }
}

QList<HttpClient::Event> HttpClient::parseSse(const QByteArray &stream, int *retry, int *comments)
{
    QList<Event> out;
    Event current;
    bool hasData = false;
    bool any = false;
    QByteArray normalized = stream;
    normalized.replace("\r\n", "\n").replace('\r', '\n');
    for (const QByteArray &line : normalized.split('\n')) {
        if (line.isEmpty()) {
            if (any) {
                if (current.event.isEmpty())
                    current.event = "message";
                if (hasData)
                    out.append(current);
            }
            current = Event{};
            hasData = false;
            any = false;
            continue;
        }
        if (line.startsWith(':')) {
            if (comments)
                ++*comments;
            continue;
        }
        const qsizetype colon = line.indexOf(':');
        const QByteArray field = colon < 0 ? line : line.left(colon);
        QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
        if (value.startsWith(' '))
            value.remove(0, 1);
        if (field == "data") {
            current.data += (hasData ? "\n" : "") + value;
            hasData = true;
            any = true;
        } else if (field == "id") {
            current.id = value;
            any = true;
        } else if (field == "event") {
            current.event = value;
            any = true;
        } else if (field == "retry" && retry) {
            *retry = value.toInt();
        }
    }
    return out;
}

QList<HttpClient::Event> HttpClient::replay(quint16 port, const QByteArray &conversationId)
{
    HttpClient c;
    c.request(port, "GET", "/api/agent/stream/" + conversationId, {{"Accept", "text/event-stream"}});
    if (!QTest::qWaitFor([&] { return c.isFinished(); }, 30000))
        qWarning() << "replay did not end";
    return c.events();
}
