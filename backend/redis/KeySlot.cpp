#include "redis/KeySlot.h"

#include <QList>

#include <array>
#include <vector>

namespace KeySlot {

namespace {
// CRC16/XMODEM (polynomial 0x1021, init 0), as in the Redis Cluster specification.
constexpr std::array<quint16, 256> makeTable()
{
    std::array<quint16, 256> t{};
    for (int i = 0; i < 256; ++i) {
        quint16 crc = quint16(i << 8);
        for (int b = 0; b < 8; ++b)
            crc = (crc & 0x8000) ? quint16((crc << 1) ^ 0x1021) : quint16(crc << 1);
        t[size_t(i)] = crc;
    }
    return t;
}
constexpr std::array<quint16, 256> kTable = makeTable();
} // namespace

quint16 crc16(QByteArrayView bytes)
{
    quint16 crc = 0;
    for (char c : bytes)
        crc = quint16((crc << 8) ^ kTable[size_t(((crc >> 8) ^ quint8(c)) & 0xff)]);
    return crc;
}

QByteArrayView hashed(QByteArrayView key)
{
    const qsizetype open = key.indexOf('{');
    if (open < 0)
        return key;
    const qsizetype close = key.indexOf('}', open + 1);
    if (close < 0 || close == open + 1)
        return key;
    return key.sliced(open + 1, close - open - 1);
}

int slotOf(QByteArrayView key)
{
    return crc16(hashed(key)) & (kSlots - 1);
}

const QByteArray &tagForSlot(int slot)
{
    // Counting up in base 36 over [0-9a-z] finds a tag for every slot within 4 characters
    // (checked by tst_clusterslots); about 10^5 CRCs, once.
    static const std::vector<QByteArray> tags = [] {
        std::vector<QByteArray> t(kSlots);
        int found = 0;
        static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
        for (int n = 0; found < kSlots && n < 36 * 36 * 36 * 36 * 36; ++n) {
            QByteArray tag;
            int v = n;
            do {
                tag.prepend(digits[v % 36]);
                v /= 36;
            } while (v > 0);
            QByteArray &slotTag = t[size_t(slotOf(tag))];
            if (slotTag.isEmpty()) {
                slotTag = tag;
                ++found;
            }
        }
        return t;
    }();
    return tags[size_t(slot & (kSlots - 1))];
}

} // namespace KeySlot

ClusterRedirect ClusterRedirect::parse(QByteArrayView error)
{
    ClusterRedirect r;
    auto word = [&](const char *w) {
        const qsizetype n = qsizetype(qstrlen(w));
        return error.startsWith(QByteArrayView(w, n)) && (error.size() == n || error.at(n) == ' ');
    };
    if (word("TRYAGAIN")) {
        r.kind = Kind::TryAgain;
        return r;
    }
    if (word("CLUSTERDOWN")) {
        r.kind = Kind::ClusterDown;
        return r;
    }
    if (word("NOSCRIPT")) {
        r.kind = Kind::NoScript;
        return r;
    }
    const bool moved = word("MOVED");
    if (!moved && !word("ASK"))
        return r;
    // "<MOVED|ASK> <slot> <host>:<port>"; the host may be an IPv6 address (the last ':' splits).
    const QList<QByteArray> parts = error.toByteArray().split(' ');
    if (parts.size() != 3)
        return r;
    bool ok = false;
    const int slot = parts.at(1).toInt(&ok);
    const qsizetype colon = parts.at(2).lastIndexOf(':');
    if (!ok || slot < 0 || slot >= KeySlot::kSlots || colon < 0)
        return r;
    bool portOk = false;
    const int port = parts.at(2).mid(colon + 1).toInt(&portOk);
    if (!portOk || port < 1 || port > 65535)
        return r;
    r.kind = moved ? Kind::Moved : Kind::Ask;
    r.slot = slot;
    r.host = QString::fromLatin1(parts.at(2).left(colon));
    r.port = port;
    return r;
}
