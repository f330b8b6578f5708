#include "http/RequestHead.h"

#include <algorithm>
#include <limits>

namespace {
bool isTchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
}

bool isToken(QByteArrayView s)
{
    if (s.isEmpty())
        return false;
    for (const char c : s)
        if (!isTchar(c))
            return false;
    return true;
}

bool isDigits(QByteArrayView s)
{
    if (s.isEmpty())
        return false;
    for (const char c : s)
        if (c < '0' || c > '9')
            return false;
    return true;
}

// uri-host [":" port] characters: unreserved, pct-encoded, sub-delims, ":" and IP-literal brackets.
bool isHostValue(QByteArrayView s)
{
    for (const char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || QByteArrayView("-._~%!$&'()*+,;=:[]").contains(c)))
            return false;
    return true;
}

bool isOws(char c)
{
    return c == ' ' || c == '\t';
}

QByteArrayView trimmedOws(QByteArrayView s)
{
    while (!s.isEmpty() && isOws(s.front()))
        s = s.sliced(1);
    while (!s.isEmpty() && isOws(s.back()))
        s.chop(1);
    return s;
}

bool sameName(QByteArrayView a, QByteArrayView b)
{
    return a.compare(b, Qt::CaseInsensitive) == 0;
}

// Offset of the request line after the empty lines before it; -1 when the data ends inside them.
qsizetype skipEmptyLines(QByteArrayView data)
{
    qsizetype i = 0;
    while (i < data.size()) {
        if (data[i] == '\n')
            ++i;
        else if (data[i] == '\r' && i + 1 == data.size())
            return -1; // CR of a CRLF whose LF is still to come
        else if (data[i] == '\r' && data[i + 1] == '\n')
            i += 2;
        else
            break;
    }
    return i == data.size() ? -1 : i;
}

// The line starting at `from` without its LF (and the CR before it); -1 in *next when the line
// has no LF yet.
QByteArrayView lineAt(QByteArrayView data, qsizetype from, qsizetype *next)
{
    const qsizetype lf = data.indexOf('\n', from);
    if (lf < 0) {
        *next = -1;
        return {};
    }
    *next = lf + 1;
    QByteArrayView line = data.sliced(from, lf - from);
    if (line.endsWith('\r'))
        line.chop(1);
    return line;
}

bool fail(RequestHead *h, int status, const QByteArray &why)
{
    h->status = status;
    h->error = why;
    return false;
}

bool parseRequestLine(QByteArrayView line, RequestHead *h)
{
    if (line.contains('\r'))
        return fail(h, 400, "a bare CR in the request line");
    const qsizetype sp1 = line.indexOf(' ');
    const qsizetype sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp2 < 0)
        return fail(h, 400, "not an HTTP/1.x request line: send METHOD /path HTTP/1.1");
    if (line.indexOf(' ', sp2 + 1) >= 0)
        return fail(h, 400, "the request line has more than two spaces");
    const QByteArrayView method = line.first(sp1);
    const QByteArrayView target = line.sliced(sp1 + 1, sp2 - sp1 - 1);
    const QByteArrayView version = line.sliced(sp2 + 1);
    if (!isToken(method))
        return fail(h, 400, "the method is not a token");
    if (target.isEmpty())
        return fail(h, 400, "the request target is empty");
    for (const char c : target)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return fail(h, 400, "a control character in the request target");
    if (version.size() != 8 || !version.startsWith("HTTP/") || version[5] < '0' || version[5] > '9' || version[6] != '.'
        || version[7] < '0' || version[7] > '9')
        return fail(h, 400, "malformed HTTP version in the request line");
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
        return fail(h, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    static const QByteArrayView known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    if (std::find(std::begin(known), std::end(known), method) == std::end(known))
        return fail(h, 501, "the method " + method.toByteArray() + " is not implemented");
    const bool absolute = target.startsWith("http://") || target.startsWith("https://") || target.startsWith("HTTP://")
        || target.startsWith("HTTPS://");
    if (!target.startsWith('/') && !absolute && !(target == "*" && method == "OPTIONS"))
        return fail(h, 400, "the request target is not a path");
    h->method = method.toByteArray();
    h->target = target.toByteArray();
    h->minorVersion = version[7] - '0';
    return true;
}
} // namespace

qsizetype RequestHead::findEnd(QByteArrayView data, qsizetype from)
{
    const qsizetype start = skipEmptyLines(data);
    if (start < 0)
        return -1;
    // An LF followed by LF or CRLF ends the head; two bytes of look-back cover one cut between
    // calls.
    for (qsizetype lf = data.indexOf('\n', qMax(start, from - 2)); lf >= 0; lf = data.indexOf('\n', lf + 1)) {
        if (lf + 1 < data.size() && data[lf + 1] == '\n')
            return lf + 2;
        if (lf + 2 < data.size() && data[lf + 1] == '\r' && data[lf + 2] == '\n')
            return lf + 3;
    }
    return -1;
}

int RequestHead::checkRequestLine(QByteArrayView data, QByteArray *error)
{
    const qsizetype start = skipEmptyLines(data);
    if (start < 0)
        return -1;
    qsizetype next = 0;
    const QByteArrayView line = lineAt(data, start, &next);
    if (next < 0)
        return -1;
    RequestHead h;
    parseRequestLine(line, &h);
    if (error)
        *error = h.error;
    return h.status;
}

RequestHead RequestHead::parse(QByteArrayView head)
{
    RequestHead h;
    qsizetype pos = skipEmptyLines(head);
    if (pos < 0) {
        fail(&h, 400, "no request line");
        return h;
    }
    qsizetype next = 0;
    if (!parseRequestLine(lineAt(head, pos, &next), &h))
        return h;
    if (next < 0) {
        fail(&h, 400, "the request head is incomplete");
        return h;
    }
    bool haveLength = false, haveTransferEncoding = false, close = false, keepAliveToken = false;
    int hosts = 0;
    QByteArrayView lastCoding;
    while (true) {
        pos = next;
        if (pos >= head.size()) {
            fail(&h, 400, "the request head is incomplete");
            return h;
        }
        const QByteArrayView line = lineAt(head, pos, &next);
        if (next < 0) {
            fail(&h, 400, "the request head is incomplete");
            return h;
        }
        if (line.isEmpty())
            break;
        if (line.contains('\r')) {
            fail(&h, 400, "a bare CR in a header line");
            return h;
        }
        if (isOws(line.front())) {
            fail(&h, 400, "a folded header line (obs-fold) is not accepted");
            return h;
        }
        if (h.fields.size() >= kMaxFields) {
            fail(&h, 431, "more than 100 header fields");
            return h;
        }
        if (line.size() > kMaxFieldLine) {
            fail(&h, 431, "a header field is larger than 8000 bytes");
            return h;
        }
        const qsizetype colon = line.indexOf(':');
        if (colon < 0) {
            fail(&h, 400, "a header line without a colon");
            return h;
        }
        const QByteArrayView name = line.first(colon);
        if (name.isEmpty()) {
            fail(&h, 400, "a header field without a name");
            return h;
        }
        if (!isToken(name)) {
            fail(&h, 400, isOws(name.back()) ? "whitespace between a header field name and its colon" : "a header field name that is not a token");
            return h;
        }
        const QByteArrayView value = trimmedOws(line.sliced(colon + 1));
        for (const char c : value) {
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
                fail(&h, 400, "a control character in the value of " + name.toByteArray());
                return h;
            }
        }
        h.fields.append({name.toByteArray(), value.toByteArray()});
        if (sameName(name, "Content-Length")) {
            if (haveLength) {
                fail(&h, 400, "more than one Content-Length");
                return h;
            }
            haveLength = true;
            if (!isDigits(value)) {
                fail(&h, 400, "invalid Content-Length: it must be a decimal number");
                return h;
            }
            // Past 18 digits it does not fit: larger than any limit anyway.
            h.contentLength = value.size() > 18 ? std::numeric_limits<qint64>::max() : value.toLongLong();
        } else if (sameName(name, "Transfer-Encoding")) {
            haveTransferEncoding = true;
            const qsizetype comma = value.lastIndexOf(',');
            lastCoding = trimmedOws(comma < 0 ? value : value.sliced(comma + 1));
            if (lastCoding.isEmpty() && comma >= 0)
                lastCoding = "?"; // "chunked," names an empty coding last
        } else if (sameName(name, "Host")) {
            ++hosts;
            if (!isHostValue(value)) {
                fail(&h, 400, "invalid Host header");
                return h;
            }
        } else if (sameName(name, "Connection")) {
            for (const QByteArray &option : value.toByteArray().split(',')) {
                const QByteArrayView o = trimmedOws(option);
                close = close || sameName(o, "close");
                keepAliveToken = keepAliveToken || sameName(o, "keep-alive");
            }
        }
    }
    if (next != head.size()) {
        fail(&h, 400, "bytes after the end of the request head");
        return h;
    }
    if (haveTransferEncoding) {
        if (haveLength)
            fail(&h, 400, "both Content-Length and Transfer-Encoding: the body length is ambiguous");
        else if (h.minorVersion == 0)
            fail(&h, 400, "Transfer-Encoding in an HTTP/1.0 request");
        else if (sameName(lastCoding, "chunked"))
            fail(&h, 411, "chunked request bodies are not accepted: send the body with a Content-Length");
        else
            fail(&h, 400, "Transfer-Encoding must end with chunked");
        return h;
    }
    if (hosts > 1) {
        fail(&h, 400, "more than one Host header");
        return h;
    }
    if (hosts == 0 && h.minorVersion == 1) {
        fail(&h, 400, "an HTTP/1.1 request needs a Host header");
        return h;
    }
    h.keepAlive = !close && (h.minorVersion == 1 || keepAliveToken);
    return h;
}

QByteArray RequestHead::field(QByteArrayView name) const
{
    for (const auto &f : fields)
        if (sameName(f.first, name))
            return f.second;
    return {};
}
