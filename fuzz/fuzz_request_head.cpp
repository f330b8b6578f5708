// fuzz_request_head: RequestHead (the request guard's head check) against a model of how
// QtHttpServer 6.4 reads the same bytes. The guard is only safe if it never lags behind Qt:
// whenever Qt would have a complete head, the guard has one too, no later; and a head the guard
// accepts must mean to Qt exactly what it means to the guard (same fields, same body length, no
// chunked framing), or a body could hide a request.
//
// Input: the last 4 bytes (FuzzedDataProvider takes integers from the end) seed how the rest is
// cut into pieces (FuzzSupport::split); the rest is the bytes a client sends.
// Properties:
//  - findEnd() fed piece by piece with its `from` hint finds the same end as at once;
//  - if the Qt model completes a head, findEnd() does too, at or before it; for an accepted head
//    at the same place;
//  - an accepted head: the Qt model's fields (QHttpHeaderParser: trimmed values, folding, at
//    most 100 fields of at most 8 KiB) equal RequestHead::fields, its Content-Length (first one,
//    toULongLong) equals contentLength, it does not see chunked; no value or target holds a
//    control character; the same head with bare LFs means the same;
//  - checkRequestLine() agrees with parse() about a bad request line.

#include "FuzzSupport.h"

#include "http/RequestHead.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <limits>

using FuzzSupport::escaped;

namespace {

// How QtHttpServer 6.4 (QHttpServerRequestPrivate::readRequestLine/readHeader) finds the end of
// a head, written from its documented behaviour: whitespace before the request line is skipped,
// the request line ends at LF, the header block at an LF followed by LF or CRLF (or at once
// with an empty line after the request line). Returns the length, or -1.
qsizetype qtHeadEnd(const QByteArray &data)
{
    qsizetype i = 0;
    while (i < data.size() && (data[i] == '\v' || data[i] == '\n' || data[i] == '\r' || data[i] == ' ' || data[i] == '\t'))
        ++i;
    const qsizetype lineEnd = data.indexOf('\n', i);
    if (i == data.size() || lineEnd < 0)
        return -1;
    QByteArray fragment;
    for (qsizetype p = lineEnd + 1; p < data.size(); ++p) {
        fragment += data[p];
        if (data[p] != '\n')
            continue;
        if (fragment.endsWith("\n\r\n") || fragment.endsWith("\n\n") || fragment == "\r\n" || fragment == "\n")
            return p + 1;
    }
    return -1;
}

struct QtFields
{
    bool ok = false;
    QList<QPair<QByteArray, QByteArray>> fields;
};

// The header block as QHttpHeaderParser reads it: lines split at LF, a line starting with SP/HT
// continues the previous value, values trimmed; more than 100 fields or one over 8 KiB and it
// fails (and QtHttpServer then goes on with no fields at all).
QtFields qtFields(const QByteArray &block)
{
    QtFields out;
    QList<QByteArray> lines = block.split('\n');
    while (!lines.isEmpty() && (lines.last().isEmpty() || lines.last() == "\r"))
        lines.removeLast();
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0 || out.fields.size() >= 100)
            return out;
        QByteArray value = line.mid(colon + 1).trimmed();
        qsizetype rawSize = line.size() - (line.endsWith('\r') ? 1 : 0);
        while (i + 1 < lines.size() && (lines.at(i + 1).startsWith(' ') || lines.at(i + 1).startsWith('\t'))) {
            ++i;
            rawSize += lines.at(i).size() - (lines.at(i).endsWith('\r') ? 1 : 0);
            const QByteArray more = lines.at(i).trimmed();
            if (!more.isEmpty())
                value = value.isEmpty() ? more : value + ' ' + more;
        }
        if (rawSize > 8192)
            return out;
        out.fields.append({line.left(colon), value});
    }
    out.ok = true;
    return out;
}

void fail(const QByteArray &input, const char *why, const QByteArray &detail = {})
{
    std::fprintf(stderr, "\ninput (%d bytes): \"%s\"\n%s\n", int(input.size()), escaped(input, 3000).constData(), detail.constData());
    FUZZ_CHECK(false, "%s", why);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzedDataProvider fdp(data, size);
    const uint32_t seed = fdp.ConsumeIntegral<uint32_t>();
    const std::vector<uint8_t> rest = fdp.ConsumeRemainingBytes<uint8_t>();
    const QByteArray bytes(reinterpret_cast<const char *>(rest.data()), qsizetype(rest.size()));

    const qsizetype end = RequestHead::findEnd(bytes);
    // In pieces, as the guard calls it.
    QByteArray sofar;
    qsizetype searched = 0, piecewise = -1;
    for (const QByteArray &piece : FuzzSupport::split(bytes, seed)) {
        sofar += piece;
        piecewise = RequestHead::findEnd(sofar, searched);
        if (piecewise >= 0)
            break;
        searched = sofar.size();
    }
    if (piecewise != end)
        fail(bytes, "findEnd() in pieces differs from findEnd() at once",
             "at once " + QByteArray::number(end) + ", in pieces " + QByteArray::number(piecewise));

    const qsizetype qtEnd = qtHeadEnd(bytes);
    if (qtEnd >= 0 && (end < 0 || end > qtEnd))
        fail(bytes, "QtHttpServer would complete a head before the guard does",
             "guard " + QByteArray::number(end) + ", Qt " + QByteArray::number(qtEnd));

    QByteArray why;
    const int early = RequestHead::checkRequestLine(bytes, &why);
    if (end < 0)
        return 0;
    const QByteArray headBytes = bytes.left(end);
    const RequestHead head = RequestHead::parse(headBytes);
    if (early > 0 && head.status != early)
        fail(bytes, "checkRequestLine() and parse() disagree about the request line",
             QByteArray::number(early) + " vs " + QByteArray::number(head.status));
    if (head.status != 0) {
        FUZZ_CHECK(!head.error.isEmpty(), "a refusal without a reason");
        FUZZ_CHECK(head.status == 400 || head.status == 411 || head.status == 431 || head.status == 501 || head.status == 505,
                   "unexpected status %d", head.status);
        return 0;
    }

    // Accepted: Qt must read it the same way.
    if (qtEnd != end)
        fail(bytes, "an accepted head ends elsewhere for QtHttpServer", "guard " + QByteArray::number(end) + ", Qt " + QByteArray::number(qtEnd));
    FUZZ_CHECK(head.contentLength >= 0, "negative Content-Length");
    for (const char c : head.target)
        FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "a control character in an accepted target");
    for (const auto &f : head.fields)
        for (const char c : f.second)
            FUZZ_CHECK((static_cast<unsigned char>(c) >= 0x20 || c == '\t') && c != 0x7f, "a control character in an accepted value");
    // The header block starts after the request line (after any empty lines before it).
    qsizetype lineEnd = -1;
    for (qsizetype i = 0; i < headBytes.size(); ++i) {
        if (headBytes[i] != '\n' && headBytes[i] != '\r') {
            lineEnd = headBytes.indexOf('\n', i);
            break;
        }
    }
    FUZZ_CHECK(lineEnd >= 0, "an accepted head without a request line");
    const QtFields qt = qtFields(headBytes.mid(lineEnd + 1));
    if (!qt.ok)
        fail(bytes, "QtHttpServer's header parser fails on an accepted head (it would drop every field)");
    if (qt.fields != head.fields) {
        QByteArray detail;
        for (const auto &f : qt.fields)
            detail += "qt: " + escaped(f.first) + " = " + escaped(f.second) + "\n";
        for (const auto &f : head.fields)
            detail += "guard: " + escaped(f.first) + " = " + escaped(f.second) + "\n";
        fail(bytes, "QtHttpServer would see other fields", detail);
    }
    qint64 qtLength = 0;
    bool qtChunked = false, seenLength = false;
    for (const auto &f : qt.fields) {
        if (!seenLength && f.first.compare("content-length", Qt::CaseInsensitive) == 0) {
            seenLength = true;
            bool ok = false;
            const qulonglong n = f.second.toULongLong(&ok);
            qtLength = ok ? qint64(qMin<qulonglong>(n, qulonglong(std::numeric_limits<qint64>::max()))) : -1;
        }
        if (f.first.compare("transfer-encoding", Qt::CaseInsensitive) == 0 && f.second.toLower().contains("chunked"))
            qtChunked = true;
    }
    FUZZ_CHECK(!qtChunked, "an accepted head that QtHttpServer frames as chunked");
    // Past 18 digits the guard says "larger than any limit"; below, the same number.
    if (head.contentLength < 1000000000000000000LL && qtLength != head.contentLength)
        fail(bytes, "QtHttpServer would read another body length",
             "guard " + QByteArray::number(head.contentLength) + ", Qt " + QByteArray::number(qtLength));

    const RequestHead lf = RequestHead::parse(QByteArray(headBytes).replace("\r\n", "\n"));
    FUZZ_CHECK(lf.status == 0 && lf.fields == head.fields && lf.contentLength == head.contentLength && lf.keepAlive == head.keepAlive,
               "the same head with bare LFs means something else");
    return 0;
}
