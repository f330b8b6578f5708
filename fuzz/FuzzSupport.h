#pragma once

// Shared by the fuzz targets: a failed property aborts (libFuzzer saves the input as crash-*),
// and a deterministic, input-controlled way to cut a byte string into chunks.

#include <QByteArray>
#include <QList>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

// Like assert(), but active in every build type and says which property broke.
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "\nFUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, "" __VA_ARGS__);                                                  \
            std::fprintf(stderr, "\n");                                                            \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace FuzzSupport {

// C-escaped rendering of bytes for failure messages ("\r\n\x00...").
inline QByteArray escaped(const QByteArray &bytes, int max = 400)
{
    QByteArray out;
    for (int i = 0; i < bytes.size() && i < max; ++i) {
        const unsigned char c = static_cast<unsigned char>(bytes.at(i));
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c >= 0x20 && c < 0x7f)
            out += char(c);
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else
            out += "\\x" + QByteArray::number(c, 16).rightJustified(2, '0');
    }
    if (bytes.size() > max)
        out += "...";
    return out;
}

// Cuts `bytes` into chunks whose sizes come from `seed`: mode 0 one byte at a time, mode 1
// small pieces (0-7 bytes, empty chunks included), mode 2 larger random pieces.
inline QList<QByteArray> split(const QByteArray &bytes, uint32_t seed)
{
    QList<QByteArray> chunks;
    std::minstd_rand rng(seed | 1u);
    const int mode = int(seed % 3);
    qsizetype pos = 0;
    while (pos < bytes.size()) {
        qsizetype len = 1;
        if (mode == 1)
            len = qsizetype(rng() % 8);
        else if (mode == 2)
            len = qsizetype(rng() % 64) + 1;
        len = qMin(len, bytes.size() - pos);
        chunks.append(bytes.mid(pos, len));
        pos += len;
    }
    chunks.append(QByteArray()); // a final empty read must change nothing
    return chunks;
}

// CRLF and lone CR become LF: what a conforming SSE parser makes of line breaks.
inline QByteArray normalizeNewlines(const QByteArray &text)
{
    QByteArray out;
    out.reserve(text.size());
    for (qsizetype i = 0; i < text.size(); ++i) {
        if (text.at(i) == '\r') {
            out += '\n';
            if (i + 1 < text.size() && text.at(i + 1) == '\n')
                ++i;
        } else {
            out += text.at(i);
        }
    }
    return out;
}

} // namespace FuzzSupport
