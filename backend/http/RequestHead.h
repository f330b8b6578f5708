#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>

// The head of one HTTP/1.x request (request line and header fields), checked strictly. Pure.
//
// QtHttpServer 6.4 parses leniently: it frames a body by Transfer-Encoding over Content-Length,
// takes the first of two Content-Lengths, folds obs-fold lines, accepts any version, and drops
// every header (Content-Length included) when there are over 100 fields or one over 8 KiB. Any
// of these lets a body hide a second request. The request guard (ConnectionGuard) runs this on
// each head before Qt acts on it and answers `status` itself, so Qt only ever parses heads whose
// framing is unambiguous: one decimal Content-Length or none, no Transfer-Encoding.
//
//   const qsizetype end = RequestHead::findEnd(bytes);   // -1: the head is not complete yet
//   const RequestHead head = RequestHead::parse(bytes.first(end));
//   if (head.status != 0) refuse(head.status, head.error);
class RequestHead
{
public:
    // QtHttpServer's own limits (QHttpHeaderParser): past them it silently drops all fields.
    static constexpr int kMaxFields = 100;
    static constexpr int kMaxFieldLine = 8000;

    // Length of the head at the start of `data`, its final empty line included; -1 while it is
    // incomplete. Lines end with CRLF or a bare LF (as QtHttpServer accepts both, the guard must
    // find the same end); empty lines before the request line are skipped (RFC 9112 2.2).
    // `from`: bytes before it were searched by an earlier call that returned -1 (data arriving
    // in pieces is then searched once, not once per piece).
    static qsizetype findEnd(QByteArrayView data, qsizetype from = 0);
    // Checks the request line as soon as it is complete, before the rest of the head: -1 while
    // the line is incomplete, 0 when it is fine, else the status to refuse with (*error why).
    // QtHttpServer closes without a word on a request line it cannot parse (HTTP/0.9 included).
    static int checkRequestLine(QByteArrayView data, QByteArray *error = nullptr);
    // The whole head, as delimited by findEnd().
    static RequestHead parse(QByteArrayView head);

    int status = 0;   // 0: acceptable; else 400, 411, 431, 501 or 505
    QByteArray error; // why not, one line for the response body
    QByteArray method;
    QByteArray target;
    int minorVersion = 1;     // HTTP/1.<minor>
    qint64 contentLength = 0; // 0 without a Content-Length
    bool keepAlive = true;    // false: close after the response (Connection: close, or HTTP/1.0 without keep-alive)
    QList<QPair<QByteArray, QByteArray>> fields; // as sent; values without surrounding whitespace

    bool isHead() const { return method == "HEAD"; }
    // The first field of that name (case-insensitive), empty when absent.
    QByteArray field(QByteArrayView name) const;
};
