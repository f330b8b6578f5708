#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <functional>

// An OpenAI-compatible Chat Completions server for tests: real HTTP/1.1 on a free port, keep-alive,
// responses streamed with Transfer-Encoding: chunked and SSE lines exactly like api.openai.com.
// Each complete request is recorded and handed to onRequest, which answers at once or keeps
// the socket and writes later (test-driven pacing: write, wait for the agent, write more).
//
//   FakeChatServer server;
//   server.onRequest = [&](int i, QTcpSocket *s) { FakeChatServer::beginStream(s); ... };
class FakeChatServer : public QObject
{
public:
    struct Request
    {
        QByteArray method;
        QByteArray target; // path and query
        QMap<QByteArray, QByteArray> headers; // lower-case names
        QByteArray body;
        QJsonObject json() const;
    };

    explicit FakeChatServer(QObject *parent = nullptr);
    ~FakeChatServer() override;
    quint16 port() const { return m_server.serverPort(); }

    QList<Request> requests;
    QList<QPointer<QTcpSocket>> sockets; // the connection of each request, same index
    int disconnects = 0;                 // connections the client closed
    std::function<void(int index, QTcpSocket *socket)> onRequest;

    // Writing a response (each write is flushed at once, so it leaves in its own TCP segment).
    static void beginStream(QTcpSocket *s, const QByteArray &extraHeaders = {});
    static void writeChunk(QTcpSocket *s, const QByteArray &data); // one chunked-encoding chunk
    static QByteArray event(const QJsonObject &delta, const QJsonValue &finishReason = QJsonValue::Null);
    static void sendDelta(QTcpSocket *s, const QJsonObject &delta, const QJsonValue &finishReason = QJsonValue::Null);
    static void sendDone(QTcpSocket *s); // data: [DONE], then the chunked terminator
    static void sendText(QTcpSocket *s, const QStringList &pieces); // a whole answer: pieces, stop, [DONE]
    static void sendJson(QTcpSocket *s, int status, const QByteArray &body, const QByteArray &extraHeaders = {});

private:
    void onReadyRead(QTcpSocket *s);
    QTcpServer m_server;
    QMap<QTcpSocket *, QByteArray> m_buffers;
};
