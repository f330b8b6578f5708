#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <charconv>
#include <cstring>
#include <initializer_list>

// Builds one Redis command (a RESP array of bulk strings) straight into a single buffer, for
// hot paths that would otherwise allocate a QByteArray per argument and have hiredis format
// them again. Send it with RedisConnection::commandFormatted().
//
//   RespCommand c;
//   c.arg("XADD").arg(key).arg(ms, seq).arg("text").arg(text);
//   connection->commandFormatted(c.finish(), callback);
class RespCommand
{
public:
    explicit RespCommand(qsizetype reserveBytes = 256)
    {
        m_buf.reserve(kHead + reserveBytes);
        m_buf.resize(kHead);
    }

    RespCommand &arg(QByteArrayView a)
    {
        char head[24];
        head[0] = '$';
        char *end = std::to_chars(head + 1, head + sizeof head - 2, a.size()).ptr;
        *end++ = '\r';
        *end++ = '\n';
        char *out = grow(qsizetype(end - head) + a.size() + 2);
        std::memcpy(out, head, size_t(end - head));
        out += end - head;
        if (!a.isEmpty())
            std::memcpy(out, a.data(), size_t(a.size()));
        out[a.size()] = '\r';
        out[a.size() + 1] = '\n';
        ++m_count;
        return *this;
    }
    // One argument made of several pieces (a key from prefix + id + suffix, without building it).
    RespCommand &arg(std::initializer_list<QByteArrayView> pieces)
    {
        qsizetype size = 0;
        for (QByteArrayView p : pieces)
            size += p.size();
        char head[24];
        head[0] = '$';
        char *end = std::to_chars(head + 1, head + sizeof head - 2, size).ptr;
        *end++ = '\r';
        *end++ = '\n';
        char *out = grow(qsizetype(end - head) + size + 2);
        std::memcpy(out, head, size_t(end - head));
        out += end - head;
        for (QByteArrayView p : pieces) {
            if (!p.isEmpty())
                std::memcpy(out, p.data(), size_t(p.size()));
            out += p.size();
        }
        out[0] = '\r';
        out[1] = '\n';
        ++m_count;
        return *this;
    }
    RespCommand &arg(const char *a) { return arg(QByteArrayView(a, qsizetype(std::strlen(a)))); }
    RespCommand &arg(const QByteArray &a) { return arg(QByteArrayView(a)); }
    RespCommand &arg(qint64 n)
    {
        char digits[24];
        return arg(QByteArrayView(digits, std::to_chars(digits, digits + sizeof digits, n).ptr - digits));
    }
    RespCommand &arg(int n) { return arg(qint64(n)); }
    // A stream entry id "<ms>-<seq>".
    RespCommand &arg(quint64 ms, quint64 seq)
    {
        char digits[48];
        char *end = std::to_chars(digits, digits + 22, ms).ptr;
        *end++ = '-';
        end = std::to_chars(end, digits + sizeof digits, seq).ptr;
        return arg(QByteArrayView(digits, end - digits));
    }

    int count() const { return m_count; }
    // The finished command; valid until the builder changes or goes away.
    QByteArrayView finish()
    {
        char head[24];
        head[0] = '*';
        char *end = std::to_chars(head + 1, head + sizeof head - 2, m_count).ptr;
        *end++ = '\r';
        *end++ = '\n';
        const qsizetype n = qsizetype(end - head);
        std::memcpy(m_buf.data() + kHead - n, head, size_t(n));
        return QByteArrayView(m_buf.constData() + kHead - n, m_buf.size() - kHead + n);
    }

private:
    // Room in front of the arguments for the "*<count>\r\n" header, written by finish().
    static constexpr qsizetype kHead = 16;
    char *grow(qsizetype n)
    {
        const qsizetype at = m_buf.size();
        if (m_buf.capacity() < at + n)
            m_buf.reserve(qMax(at + n, 2 * m_buf.capacity()));
        m_buf.resize(at + n);
        return m_buf.data() + at;
    }

    QByteArray m_buf;
    int m_count = 0;
};
