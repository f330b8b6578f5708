#pragma once

#include <QByteArrayList>
#include <QString>

// Outcome of StreamVerifier: the replay of a stream from its start compared, event by event
// (up to the client's cursor), with what the client received.
struct VerifyResult
{
    bool ok = false;
    bool completed = false; // the replay reached the cursor; false = could not compare
    int compared = 0;       // replayed events up to the cursor
    int missing = 0;        // in the replay, never received: gaps
    int extra = 0;          // received, not in the replay
    int mismatched = 0;     // same id, other type or data
    qsizetype replayChars = 0;
    qsizetype shownChars = 0;
    QString summary;
    // Ids of the missing, extra and different events, in that order, at most kMaxDifferingIds.
    static constexpr int kMaxDifferingIds = 256;
    QByteArrayList differingIds;
};
