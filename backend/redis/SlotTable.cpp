#include "redis/SlotTable.h"

#include "redis/RedisReply.h"

#include <algorithm>

SlotTable SlotTable::single(const QString &host, int port)
{
    SlotTable t;
    const int node = t.indexOf({host, port});
    for (int s = 0; s < KeySlot::kSlots; ++s)
        t.setOwner(s, node);
    return t;
}

std::optional<SlotTable> SlotTable::fromClusterSlots(const RedisReply &reply, const QString &fallbackHost, QString *error)
{
    if (!reply.isArray()) {
        *error = QStringLiteral("CLUSTER SLOTS did not answer an array");
        return std::nullopt;
    }
    SlotTable t;
    for (const RedisReply &range : reply.elements) {
        if (!range.isArray() || range.elements.size() < 3 || range.elements.at(0).type != RedisReply::Type::Integer
            || range.elements.at(1).type != RedisReply::Type::Integer || !range.elements.at(2).isArray()
            || range.elements.at(2).elements.size() < 2) {
            *error = QStringLiteral("CLUSTER SLOTS: unexpected range entry");
            return std::nullopt;
        }
        const long long from = range.elements.at(0).integer;
        const long long to = range.elements.at(1).integer;
        const RedisReply &primary = range.elements.at(2);
        if (from < 0 || to >= KeySlot::kSlots || from > to || primary.elements.at(1).type != RedisReply::Type::Integer) {
            *error = QStringLiteral("CLUSTER SLOTS: bad range %1-%2").arg(from).arg(to);
            return std::nullopt;
        }
        QString host = QString::fromUtf8(primary.elements.at(0).str);
        if (host.isEmpty() || host == QLatin1String("?"))
            host = fallbackHost;
        const int node = t.indexOf({host, int(primary.elements.at(1).integer)});
        for (long long s = from; s <= to; ++s)
            t.setOwner(int(s), node);
    }
    return t;
}

int SlotTable::indexOf(const Node &node)
{
    const qsizetype i = m_nodes.indexOf(node);
    if (i >= 0)
        return int(i);
    m_nodes.append(node);
    return int(m_nodes.size() - 1);
}

void SlotTable::setOwner(int slot, int node)
{
    qint16 &owner = m_owner[size_t(slot & (KeySlot::kSlots - 1))];
    if (owner >= 0 && --m_slotCount[size_t(owner)] == 0)
        m_primaries.removeOne(int(owner));
    owner = qint16(node);
    if (node >= 0) {
        if (m_slotCount.size() <= size_t(node))
            m_slotCount.resize(size_t(node) + 1, 0);
        if (m_slotCount[size_t(node)]++ == 0)
            m_primaries.insert(std::lower_bound(m_primaries.cbegin(), m_primaries.cend(), node), node);
    }
}

bool SlotTable::coversAll() const
{
    for (qint16 o : m_owner)
        if (o < 0)
            return false;
    return true;
}

void SlotTable::update(const SlotTable &fresh)
{
    QList<int> index;
    for (const Node &n : fresh.nodes())
        index.append(indexOf(n));
    for (int s = 0; s < KeySlot::kSlots; ++s) {
        const int o = fresh.nodeOf(s);
        setOwner(s, o < 0 ? -1 : index.at(o));
    }
}
