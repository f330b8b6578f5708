#include "FakeChatServer.h"

#include <QJsonArray>
#include <QJsonDocument>

QJsonObject FakeChatServer::Request::json() const
{
    return QJsonDocument::fromJson(body).object();
}

FakeChatServer::FakeChatServer(QObject *parent)
    : QObject(parent)
{
    m_server.listen(QHostAddress::LocalHost, 0);
    connect(&m_server, &QTcpServer::newConnection, this, [this] {
        while (QTcpSocket *s = m_server.nextPendingConnection()) {
            connect(s, &QTcpSocket::readyRead, this, [this, s] { onReadyRead(s); });
            connect(s, &QTcpSocket::disconnected, this, [this, s] {
                ++disconnects;
                m_buffers.remove(s);
                s->deleteLater();
            });
        }
    });
}

FakeChatServer::~FakeChatServer()
{
    // The sockets are children of m_server and die after our members: stop their signals first.
    for (QTcpSocket *s : m_server.findChildren<QTcpSocket *>())
        s->disconnect(this);
}

void FakeChatServer::onReadyRead(QTcpSocket *s)
{
    m_buffers[s] += s->readAll();
    for (;;) { // keep-alive: several requests may come on one connection
        auto it = m_buffers.find(s); // onRequest may drop the connection (and its buffer)
        if (it == m_buffers.end())
            return;
        QByteArray &buffer = *it;
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        Request r;
        const QList<QByteArray> lines = buffer.left(end).split('\n');
        const QList<QByteArray> start = lines.first().trimmed().split(' ');
        r.method = start.value(0);
        r.target = start.value(1);
        for (int i = 1; i < lines.size(); ++i) {
            const qsizetype colon = lines[i].indexOf(':');
            if (colon > 0)
                r.headers.insert(lines[i].left(colon).trimmed().toLower(), lines[i].mid(colon + 1).trimmed());
        }
        const qsizetype length = r.headers.value("content-length").toLongLong();
        if (buffer.size() < end + 4 + length)
            return;
        r.body = buffer.mid(end + 4, length);
        buffer.remove(0, end + 4 + length);
        requests << r;
        sockets << QPointer<QTcpSocket>(s);
        if (onRequest)
            onRequest(int(requests.size() - 1), s);
    }
}

void FakeChatServer::beginStream(QTcpSocket *s, const QByteArray &extraHeaders)
{
    s->write("HTTP/1.1 200 OK\r\n"
             "Content-Type: text/event-stream; charset=utf-8\r\n"
             "Transfer-Encoding: chunked\r\n"
             "Connection: keep-alive\r\n"
             "openai-processing-ms: 180\r\n"
             "x-request-id: req_fake\r\n"
             + extraHeaders + "\r\n");
    s->flush();
}

void FakeChatServer::writeChunk(QTcpSocket *s, const QByteArray &data)
{
    s->write(QByteArray::number(data.size(), 16) + "\r\n" + data + "\r\n");
    s->flush();
}

QByteArray FakeChatServer::event(const QJsonObject &delta, const QJsonValue &finishReason)
{
    const QJsonObject choice{{"index", 0}, {"delta", delta}, {"logprobs", QJsonValue::Null}, {"finish_reason", finishReason}};
    const QJsonObject chunk{{"id", "chatcmpl-fake"},
                            {"object", "chat.completion.chunk"},
                            {"created", 1731000000},
                            {"model", "gpt-4o-mini-2024-07-18"},
                            {"system_fingerprint", "fp_fake"},
                            {"choices", QJsonArray{choice}}};
    return "data: " + QJsonDocument(chunk).toJson(QJsonDocument::Compact) + "\n\n";
}

void FakeChatServer::sendDelta(QTcpSocket *s, const QJsonObject &delta, const QJsonValue &finishReason)
{
    writeChunk(s, event(delta, finishReason));
}

void FakeChatServer::sendDone(QTcpSocket *s)
{
    writeChunk(s, "data: [DONE]\n\n");
    s->write("0\r\n\r\n");
    s->flush();
}

void FakeChatServer::sendText(QTcpSocket *s, const QStringList &pieces)
{
    beginStream(s);
    sendDelta(s, {{"role", "assistant"}, {"content", ""}, {"refusal", QJsonValue::Null}});
    for (const QString &p : pieces)
        sendDelta(s, {{"content", p}});
    sendDelta(s, {}, QStringLiteral("stop"));
    sendDone(s);
}

void FakeChatServer::sendJson(QTcpSocket *s, int status, const QByteArray &body, const QByteArray &extraHeaders)
{
    const QByteArray reason = status == 429 ? "Too Many Requests" : status == 401 ? "Unauthorized" : status >= 500 ? "Server Error" : "Error";
    s->write("HTTP/1.1 " + QByteArray::number(status) + ' ' + reason + "\r\nContent-Type: application/json\r\nContent-Length: "
             + QByteArray::number(body.size()) + "\r\n" + extraHeaders + "\r\n" + body);
    s->flush();
}
