#include "streams/StreamEntry.h"

#include <hiredis/hiredis.h>

QByteArrayView EntryView::field(QByteArrayView name) const
{
    if (entry) {
        for (const auto &f : entry->fields)
            if (f.first == name)
                return f.second;
        return {};
    }
    if (!kv)
        return {};
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
        const redisReply *k = kv->element[i];
        if (QByteArrayView(k->str, qsizetype(k->len)) == name)
            return QByteArrayView(kv->element[i + 1]->str, qsizetype(kv->element[i + 1]->len));
    }
    return {};
}

StreamEntry EntryView::toEntry() const
{
    if (entry)
        return *entry;
    StreamEntry e;
    e.id = id;
    e.idText = idText.toByteArray();
    if (kv) {
        e.fields.reserve(qsizetype(kv->elements / 2));
        for (size_t i = 0; i + 1 < kv->elements; i += 2)
            e.fields.emplace_back(QByteArray(kv->element[i]->str, qsizetype(kv->element[i]->len)),
                                  QByteArray(kv->element[i + 1]->str, qsizetype(kv->element[i + 1]->len)));
    }
    return e;
}

QList<EntryView> EntryView::of(const QList<StreamEntry> &entries)
{
    QList<EntryView> out;
    out.reserve(entries.size());
    for (const StreamEntry &e : entries)
        out.append(of(e));
    return out;
}

QList<EntryView> EntryView::ofReply(const redisReply *array)
{
    QList<EntryView> out;
    if (!array || array->type != REDIS_REPLY_ARRAY)
        return out;
    out.reserve(qsizetype(array->elements));
    for (size_t i = 0; i < array->elements; ++i) {
        const redisReply *item = array->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 || item->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const QByteArrayView idText(item->element[0]->str, qsizetype(item->element[0]->len));
        const auto id = EntryId::parse(idText);
        const redisReply *kv = item->element[1];
        if (!id || kv->type != REDIS_REPLY_ARRAY)
            continue;
        bool strings = true;
        for (size_t f = 0; f < kv->elements && strings; ++f)
            strings = kv->element[f]->type == REDIS_REPLY_STRING;
        if (strings)
            out.append({*id, idText, kv, nullptr});
    }
    return out;
}
