#pragma once

#include <QByteArray>
#include <QList>

// An event the client accepted (after duplicate filtering), kept so that a verification can
// compare what was shown with a replay of the whole stream.
struct ReceivedEvent
{
    QByteArray id;
    QByteArray type;
    QByteArray data;
};

using ReceivedEvents = QList<ReceivedEvent>;
