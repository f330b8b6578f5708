#pragma once

#include <QCryptographicHash>
#include <QList>
#include <QString>

// Small deterministic generator shared by the offline itinerary and the travel tools: the same
// input always yields the same output, so tests and demos are reproducible.
struct DeterministicPicker
{
    quint32 state;

    static quint32 seedOf(const QString &text)
    {
        const QByteArray h = QCryptographicHash::hash(text.toLower().toUtf8(), QCryptographicHash::Sha1);
        return quint32(uchar(h[0])) << 24 | quint32(uchar(h[1])) << 16 | quint32(uchar(h[2])) << 8 | quint32(uchar(h[3]));
    }
    static DeterministicPicker forText(const QString &text) { return DeterministicPicker{seedOf(text) | 1u}; }

    quint32 next()
    {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
    template <typename T> const T &pick(const QList<T> &list) { return list.at(int(next() % quint32(list.size()))); }
    // n different items of the list (all of them, shuffled, if it has fewer).
    template <typename T> QList<T> pickDistinct(const QList<T> &list, int n)
    {
        QList<T> rest = list;
        QList<T> out;
        while (int(out.size()) < n && !rest.isEmpty())
            out.append(rest.takeAt(int(next() % quint32(rest.size()))));
        return out;
    }
};
