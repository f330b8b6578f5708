#pragma once

#include "redis/KeySlot.h"

#include <QList>
#include <QString>
#include <optional>
#include <vector>

struct RedisReply;

// Which primary serves each of the 16384 hash slots. Built from a CLUSTER SLOTS reply, or for
// one server (standalone / Sentinel) with that server owning every slot, so that both modes
// route through the same code. Nodes are kept by index; an index stays valid for the table's
// life (a node that no longer owns a slot keeps its index).
class SlotTable
{
public:
    struct Node
    {
        QString host;
        int port = 0;
        bool operator==(const Node &o) const { return port == o.port && host == o.host; }
    };

    SlotTable() : m_owner(KeySlot::kSlots, qint16(-1)) {}
    static SlotTable single(const QString &host, int port);
    // CLUSTER SLOTS: [[start, end, [host, port, id, ...], replicas...], ...]. An empty host
    // (a node that does not know its own address) means `fallbackHost`, the address asked.
    static std::optional<SlotTable> fromClusterSlots(const RedisReply &reply, const QString &fallbackHost, QString *error);

    // -1 when no primary serves the slot.
    int nodeOf(int slot) const { return m_owner[size_t(slot & (KeySlot::kSlots - 1))]; }
    const QList<Node> &nodes() const { return m_nodes; }
    // The node's index, added when new.
    int indexOf(const Node &node);
    void setOwner(int slot, int node);
    // Nodes that serve at least one slot, in index order: kept as the per-node slot counts
    // change (asked on every connectivity check, so it neither walks the 16384 slots nor
    // builds a list).
    QList<int> primaries() const { return m_primaries; }
    int slotsOf(int node) const { return node >= 0 && size_t(node) < m_slotCount.size() ? m_slotCount[size_t(node)] : 0; }
    bool coversAll() const;
    // Takes every slot's owner from `fresh` (a newer CLUSTER SLOTS), keeping this table's node
    // indexes; nodes new to this table are added.
    void update(const SlotTable &fresh);

private:
    QList<Node> m_nodes;
    std::vector<qint16> m_owner;
    std::vector<int> m_slotCount; // by node index: slots it owns
    QList<int> m_primaries; // the nodes whose count is above 0, ascending
};
