#include "http/responses/JsonText.h"

#include <QString>

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {
// What JSON adds to a byte: 0 (copied), 1 (\" \\ \b \f \n \r \t) or 5 (\u00XX).
constexpr std::array<unsigned char, 256> kEscapeExtra = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 0x20; ++c)
        t[size_t(c)] = 5;
    for (unsigned char c : {'"', '\\', '\b', '\f', '\n', '\r', '\t'})
        t[c] = 1;
    return t;
}();

#if defined(__SSE2__)
// Bit i set: byte i of the 16 at p needs an escape. *high: bit i set when it is >= 0x80.
inline unsigned specials16(const char *p, unsigned *high)
{
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f)); // v <= 0x1f
    const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    *high = unsigned(_mm_movemask_epi8(v));
    return unsigned(_mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))));
}
#endif

char *writeOne(char *p, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '\\';
    switch (c) {
    case '"': *p++ = '"'; break;
    case '\\': *p++ = '\\'; break;
    case '\b': *p++ = 'b'; break;
    case '\f': *p++ = 'f'; break;
    case '\n': *p++ = 'n'; break;
    case '\r': *p++ = 'r'; break;
    case '\t': *p++ = 't'; break;
    default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
    }
    return p;
}
} // namespace

namespace JsonText {
qsizetype escapedSize(QByteArrayView text, bool *ascii)
{
    const char *in = text.data();
    const qsizetype n = text.size();
    qsizetype i = 0;
    qsizetype extra = 0;
    unsigned high = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        unsigned h = 0;
        for (unsigned m = specials16(in + i, &h); m; m &= m - 1)
            extra += kEscapeExtra[static_cast<unsigned char>(in[i + __builtin_ctz(m)])];
        high |= h;
    }
#endif
    for (; i < n; ++i) {
        extra += kEscapeExtra[static_cast<unsigned char>(in[i])];
        high |= static_cast<unsigned char>(in[i]) & 0x80;
    }
    *ascii = high == 0;
    return n + extra;
}

char *writeEscaped(char *p, QByteArrayView text, qsizetype size)
{
    const char *in = text.data();
    const qsizetype n = text.size();
    if (size == n) // nothing to escape
        return put(p, text);
    qsizetype i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        unsigned high = 0;
        unsigned m = specials16(in + i, &high);
        qsizetype from = i;
        for (; m; m &= m - 1) { // copy up to each byte to escape, then its escape
            const qsizetype at = i + __builtin_ctz(m);
            p = put(p, QByteArrayView(in + from, at - from));
            p = writeOne(p, static_cast<unsigned char>(in[at]));
            from = at + 1;
        }
        p = put(p, QByteArrayView(in + from, i + 16 - from));
    }
#endif
    for (; i < n; ++i) {
        const unsigned char c = static_cast<unsigned char>(in[i]);
        if (kEscapeExtra[c])
            p = writeOne(p, c);
        else
            *p++ = char(c);
    }
    return p;
}

char *grow(QByteArray &out, qsizetype n)
{
    const qsizetype at = out.size();
    out.resize(at + n);
    return out.data() + at;
}

void appendQuoted(QByteArray &out, QByteArrayView utf8)
{
    bool ascii = true;
    qsizetype size = escapedSize(utf8, &ascii);
    QByteArray decoded;
    if (!ascii) { // valid UTF-8 round-trips unchanged; invalid bytes become U+FFFD, as QJsonDocument has them
        decoded = QString::fromUtf8(utf8.data(), utf8.size()).toUtf8();
        utf8 = decoded;
        size = escapedSize(utf8, &ascii);
    }
    char *p = grow(out, size + 2);
    *p++ = '"';
    p = writeEscaped(p, utf8, size);
    *p = '"';
}
} // namespace JsonText
