#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

// Redis Cluster's key -> hash slot mapping (CRC16/XMODEM of the key, or of its hash tag: the
// bytes between the first '{' and the next '}', when not empty), and the redirect errors a
// cluster answers with. Pure functions, no state but one table built on first use.
namespace KeySlot {

constexpr int kSlots = 16384;

quint16 crc16(QByteArrayView bytes);
// The part of the key that is hashed: its hash tag, or the whole key.
QByteArrayView hashed(QByteArrayView key);
int slotOf(QByteArrayView key);
// A short tag (at most 4 of [0-9a-z]) whose slot is `slot`: a key "name:{<tag>}" lives in that
// slot. For keys that must sit beside a conversation's keys without naming the conversation
// (e.g. the per-slot lease bucket). The 16384 tags are found once, on first use.
const QByteArray &tagForSlot(int slot);

} // namespace KeySlot

// What a cluster error reply asks of the client. Parsed from the error text of a reply:
//   MOVED 3999 127.0.0.1:6381   the slot lives elsewhere now: update the table, retry there
//   ASK 3999 127.0.0.1:6381     this once, on that node after ASKING (slot being migrated)
//   TRYAGAIN ..., CLUSTERDOWN ...  not now: back off and retry
//   NOSCRIPT ...                the node does not have the script: SCRIPT LOAD there, retry
struct ClusterRedirect
{
    enum class Kind { None, Moved, Ask, TryAgain, ClusterDown, NoScript };
    Kind kind = Kind::None;
    int slot = -1;
    QString host;
    int port = 0;

    bool isRedirect() const { return kind == Kind::Moved || kind == Kind::Ask; }
    static ClusterRedirect parse(QByteArrayView error);
};
