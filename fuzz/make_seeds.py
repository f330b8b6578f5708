#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (committed; run again after editing).

Layouts: fuzz_sse_framing and fuzz_chat_stream_parser read their last 4 bytes as the seed
that decides how the input is cut (FuzzedDataProvider takes integers from the end);
fuzz_sse_framing then reads one more byte from the end: even = "parse these bytes", odd =
"frame fuzzer-chosen text with Sse::event". fuzz_http_handlers: a first byte 0x01-0x0e selects
a request prefix (see kPrefixes in fuzz_http_handlers.cpp); anything else is sent as is.
fuzz_request_head: the bytes of a request, then 4 bytes that seed how they are cut.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
CID = b"@dafx-travelplanner@0123456789abcdef0123456789abcdef"


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def seeds(seed_index):
    # modes 0 (bytewise), 1 (small pieces), 2 (larger pieces): seed % 3 picks one
    return (seed_index % 3 + 3 * 7919).to_bytes(4, "little")


# --- SSE: what the server sends, and what other servers send -------------------------------
sse = {
    "server_stream": b"retry: 3000\n\nid: 1734567890123-0\nevent: turn\ndata: {\"turn\":1,\"prompt\":\"Plan\"}\n\n"
                     b"id: 1734567890123-1\nevent: message\ndata: Day 1:\ndata: Lisbon\n\n"
                     b": keep-alive\n\nid: 1734567890124-0\nevent: done\ndata: [DONE]\n\n",
    "crlf": b"id: 1-0\r\nevent: message\r\ndata: a\r\ndata: b\r\n\r\n",
    "lone_cr": b"id: 1-0\revent: message\rdata: a\r\r",
    "bom": b"\xef\xbb\xbfdata: first\n\n",
    "no_space_colon": b"data:x\ndata\nid\nretry:12\nretry: 1x\nevent:\n\n",
    "id_with_nul": b"id: 1\x00-0\ndata: x\n\nid: 2-0\n\n",
    "unterminated": b"data: never dispatched",
    "error_event": b"event: error\ndata: {\"code\":\"agent_error\",\"message\":\"boom\"}\n\n",
    "retry_overflow": b"retry: 99999999999999999999\n\nretry: 2147483647\n\n",
    "utf8": "data: caf\u00e9 \u2014 \U0001f600\n\n".encode(),
}
for i, (name, body) in enumerate(sse.items()):
    write("fuzz_sse_framing", "bytes_" + name, body + b"\x00" + seeds(i))
for i, text in enumerate([b"hello", b"a\r\nb\rc\nd", b"\r\r\n\n", b"", b"line\n", b"\xef\xbb\xbfx", b"data: nested\n\n"]):
    # odd byte before the seed: frame mode; the other bytes pick items (see the harness)
    write("fuzz_sse_framing", "frame_%d" % i, text + b"\x02\x05\x03\x01" + seeds(i))

# --- Chat Completions streams -----------------------------------------------------------------
def chunk(obj):
    return b"data: " + obj.encode() + b"\n\n"

chat = {
    "openai": chunk('{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}')
              + chunk('{"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}')
              + chunk('{"choices":[{"index":0,"delta":{"content":"lo \\u00e9"},"finish_reason":null}]}')
              + chunk('{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}') + b"data: [DONE]\n\n",
    "azure_empty_choices": chunk('{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}')
              + chunk('{"choices":[{"index":0,"delta":{"content":"x"}}]}') + b"data: [DONE]\n\n",
    "tool_calls": chunk('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",'
                        '"function":{"name":"get_weather","arguments":""}}]}}]}')
              + chunk('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]}}]}')
              + chunk('{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"f","arguments":"{}"}}]}}]}')
              + chunk('{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}') + b"data: [DONE]\n\n",
    "ollama_no_index": chunk('{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":{"x":1}}},'
                             '{"id":"b","function":{"name":"g"}}]}}]}')
              + chunk('{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"more"}}]}}]}'),
    "error_event": b"event: error\ndata: {\"error\":{\"message\":\"rate limited\"}}\n\n",
    "error_chunk": chunk('{"error":{"message":"context length exceeded","code":"context_length_exceeded"}}'),
    "error_string": chunk('{"error":"plain"}') ,
    "keepalive_crlf": b"\xef\xbb\xbf: OPENROUTER PROCESSING\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n",
    "multiline_data": b"data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"b\"}}]}\n\n",
    "malformed": b"data: {not json\n\n",
    "no_blank_line_at_end": b"data: {\"choices\":[{\"delta\":{\"content\":\"tail\"}}]}",
    "done_then_more": b"data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ignored\"}}]}\n\n",
    "lone_cr": b"data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\r\rdata:  [DONE] \r\r",
}
for i, (name, body) in enumerate(chat.items()):
    write("fuzz_chat_stream_parser", name, body + seeds(i))

# --- cursors, ids, Accept ---------------------------------------------------------------------
ids = {
    "zero": b"0", "id": b"1734567890123-0", "max": b"18446744073709551615-18446744073709551615",
    "overflow": b"18446744073709551616-0", "leading_zeros": b"007-01", "no_seq": b"123-", "neg": b"-1",
    "plus": b"+1-0", "spaces": b" 1-0", "two_dashes": b"1-2-3", "dollar": b"$", "cid": CID,
    "cid_encoded": CID.replace(b"@", b"%40"), "cid_upper": CID.upper(), "cid_bad_pct": b"%4" + CID[1:],
    "cid_utf8_pct": b"%C0%80dafx-travelplanner@" + CID[20:],
    "accept_sse": b"text/event-stream", "accept_text": b"text/plain;q=0.9, text/event-stream;q=0.8",
    "accept_json": b"application/json", "accept_wild": b"*/*;q=0.1, text/*", "accept_q": b"TEXT/PLAIN;Q=0.5, */*;q=nan",
    "accept_none": b"image/png", "accept_junk": b",;,;q=,text/plain;q=1e400",
}
for name, body in ids.items():
    write("fuzz_cursor_and_ids", name, body)

# --- Redis connection strings -----------------------------------------------------------------
conns = {
    "host": b"localhost", "hostport": b"localhost:6379", "se": b"redis.example:6380,password=s3cr3t,user=app,defaultDatabase=2,ssl=false,abortConnect=false",
    "v6": b"[::1]:6379", "v6_bad": b"::1:6379", "url": b"redis://app:s3cr3t@redis.example:6380/3",
    "url_query": b"redis://h/?db=4&password=p%40ss", "unix": b"unix:///run/redis.sock?db=1&password=x",
    "unix_rel": b"unix://redis.sock", "rediss": b"rediss://h:6380", "scheme": b"http://h", "bad_port": b"h:99999",
    "empty_port": b"h:", "pct": b"redis://%zz@h", "ws": b"  h:1 , password = a b ", "unknown_opt": b"h,foo=bar",
    "noeq": b"h,password", "at_host": b"user@host:1",
}
for name, body in conns.items():
    write("fuzz_connection_string", name, body)

# --- HTTP requests ----------------------------------------------------------------------------
def req(method, path, headers=(), body=b""):
    out = method + b" " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for h in headers:
        out += h + b"\r\n"
    if body or method == b"POST":
        out += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return out + b"\r\n" + body

S = b"/api/agent/stream/" + CID
http = {
    "create_text": req(b"POST", b"/api/agent/create", [b"Content-Type: text/plain"], b"Plan 3 days in Lisbon"),
    "create_json": req(b"POST", b"/api/agent/create", [b"Content-Type: application/json", b"Accept: application/json"],
                       b'{"prompt":"Plan a trip","mode":"background"}'),
    "create_json_bad": req(b"POST", b"/api/agent/create", [b"Content-Type: application/json"], b'{"prompt":1}'),
    "create_form": req(b"POST", b"/api/agent/create", [b"Content-Type: application/x-www-form-urlencoded", b"Accept: text/plain"], b"hi"),
    "create_bad_utf8": req(b"POST", b"/api/agent/create", [b"Content-Type: text/plain"], b"\xc0\x80\xff"),
    "create_empty": req(b"POST", b"/api/agent/create", [b"Content-Type: text/plain"], b"   "),
    "create_unsupported": req(b"POST", b"/api/agent/create", [b"Content-Type: image/png"], b"x"),
    "create_406": req(b"POST", b"/api/agent/create", [b"Accept: image/png"], b"x"),
    "create_get": req(b"GET", b"/api/agent/create"),
    "create_huge_length": req(b"POST", b"/api/agent/create", [b"Content-Length: 99999999999"]),
    "create_neg_length": b"POST /api/agent/create HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "stream": req(b"GET", S, [b"Accept: text/event-stream"]),
    "stream_cursor": req(b"GET", S + b"?cursor=1734567890123-0"),
    "stream_pct": req(b"GET", S.replace(b"@", b"%40") + b"?cursor=0", [b"Accept: text/plain"]),
    "stream_bad_cursor": req(b"GET", S + b"?cursor=abc%0d%0aX-Injected:%20yes"),
    "stream_last_event_id": req(b"GET", S, [b"Last-Event-ID: 99-99"]),
    "stream_bad_last_event_id": req(b"GET", S, [b"Last-Event-ID: 1-\x01\x7f"]),
    "stream_not_id": req(b"GET", b"/api/agent/stream/nope%0d%0aSet-Cookie:%20a=b"),
    "stream_slash": req(b"GET", S + b"/extra"),
    "stream_post": req(b"POST", S),
    "status": req(b"GET", b"/api/agent/" + CID, [b"Accept: application/json"]),
    "messages": req(b"POST", b"/api/agent/" + CID + b"/messages", [b"Content-Type: text/plain"], b"and then?"),
    "cancel": req(b"POST", b"/api/agent/" + CID + b"/cancel"),
    "options": req(b"OPTIONS", b"/api/agent/create", [b"Origin: https://app.example",
                   b"Access-Control-Request-Method: POST", b"Access-Control-Request-Headers: content-type"]),
    "options_bad_origin": req(b"OPTIONS", b"/api/agent/create", [b"Origin: https://a\x01b"]),
    "origin_get": req(b"GET", b"/healthz", [b"Origin: null"]),
    "auth": req(b"GET", b"/metrics", [b"Authorization: Bearer k1"]),
    "token": req(b"GET", b"/readyz?access_token=k%0d%0a"),
    "root": req(b"GET", b"/"),
    "missing": req(b"GET", b"/nope/%ff%00"),
    "pipelined": req(b"GET", b"/healthz") + req(b"GET", b"/readyz") + req(b"GET", b"/"),
    "pipelined_behind_stream": req(b"GET", S) + req(b"GET", b"/healthz"),
    "http10": b"GET /healthz HTTP/1.0\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
    "chunked": b"POST /api/agent/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "expect": b"POST /api/agent/create HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    "upgrade": b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    "huge_header": b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n",
    "many_headers": b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(300)) + b"\r\n",
    "bare_lf": b"GET /healthz HTTP/1.1\nHost: x\n\n",
    "obs_fold": b"GET /healthz HTTP/1.1\r\nOrigin: a\r\n b\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    # prefixed seeds (first byte selects a request prefix in the harness)
    "p01_cursor": b"\x011-0 HTTP/1.1\r\nHost: x\r\n\r\n",
    "p02_create_headers": b"\x02Content-Type: text/plain\r\nAccept: text/plain\r\nContent-Length: 3\r\n\r\nabc",
    "p03_stream_headers": b"\x03Accept: text/plain;q=0.5, text/event-stream\r\n\r\n",
    "p04_status_headers": b"\x04Accept: application/json\r\n\r\n",
    "p05_origin": b"\x05https://app.example\r\n\r\n",
    "p06_messages": b"\x06Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"prompt\":\"hi\"}",
    "p07_json_body": b'\x07{"prompt":"Plan","mode":"background","provider":{"x":[1,2]}}',
    "p08_text_body": b"\x08Plan \xe2\x80\x94 3 days",
    "p09_stream_path": CID.replace(b"@", b"%40", 1).join([b"\x09", b"?cursor=0 HTTP/1.1\r\n\r\n"]),
    "p10_cancel": b"\x0a\r\n",
    "p11_last_event_id": b"\x0b1734567890123-5\r\n\r\n",
    "p12_healthz_headers": b"\x0cOrigin: https://x\r\nAccept: application/json\r\nAuthorization: Bearer x\r\n\r\n",
    "p13_agent_path": b"\x0d" + CID + b"/messages HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
    "p14_messages_json": b'\x0e{"prompt":"next"}',
}
# Framing (issue 12 items 2, 3, 9): each must be refused (or closed) before Qt parses it.
POST = b"POST /api/agent/create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
CANCEL = b"POST /api/agent/" + CID + b"/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
def chunked(*chunks, trailer=b""):
    out = b""
    for c in chunks:
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"
framing = {
    "smuggle_cl_te": POST + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % (5 + len(CANCEL)) + b"0\r\n\r\n" + CANCEL,
    "smuggle_te_cl": POST + b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n\r\n" % (5 + len(CANCEL)) + b"0\r\n\r\n" + CANCEL,
    "smuggle_two_cl": POST + b"Content-Length: 0\r\nContent-Length: %d\r\n\r\n" % len(CANCEL) + CANCEL,
    "smuggle_same_cl": POST + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
    "smuggle_cl_list": POST + b"Content-Length: 2, 2\r\n\r\nhi",
    "smuggle_space_colon": POST + b"Content-Length : 2\r\n\r\nhi",
    "smuggle_folded_cl": POST + b"Content-Length:\r\n 2\r\n\r\nhi",
    "smuggle_plus_cl": POST + b"Content-Length: +2\r\n\r\nhi",
    "smuggle_many_fields": POST + b"".join(b"X-%d: v\r\n" % i for i in range(101))
                           + b"Content-Length: %d\r\n\r\n" % len(CANCEL) + CANCEL,
    "smuggle_long_field": POST + b"X-Long: " + b"a" * 8200 + b"\r\nContent-Length: %d\r\n\r\n" % len(CANCEL) + CANCEL,
    "te_gzip_chunked": POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked(b"hello"),
    "te_chunked_gzip": POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + chunked(b"hello"),
    "te_identity": POST + b"Transfer-Encoding: identity\r\n\r\nhello",
    "te_http10": b"POST /api/agent/create HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"hi"),
    "chunked_pieces": POST + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(b"Plan ", b"a trip ", b"to Rome" * 40),
    "chunked_ext_trailer": POST + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
    "chunked_huge_size": POST + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello",
    "chunked_bare_lf": b"POST /api/agent/create HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n",
    "bare_lf_body": b"POST /api/agent/create HTTP/1.1\nHost: x\nContent-Type: text/plain\nContent-Length: 5\n\nhello",
    "bare_lf_huge_length": b"POST /api/agent/create HTTP/1.1\nHost: x\nContent-Length: 99999999\n\n" + b"b" * 1000,
    "mixed_line_ends": b"GET /healthz HTTP/1.1\r\nHost: x\nAccept: */*\r\n\n",
    "empty_lines_first": b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "http09_line_only": b"GET /healthz\r\n",
    "http2_preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "version_12": b"GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n",
    "method_unknown": b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "method_lower": b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "two_spaces": b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "nul_target": b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "cr_target": b"GET /heal\rthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "nul_value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "cr_value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "no_host": b"GET /healthz HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "absolute_form": b"GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "asterisk_options": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "head_healthz": req(b"HEAD", b"/healthz") + req(b"GET", b"/healthz"),
    "head_pipelined": req(b"HEAD", b"/api/agent/create") + req(b"HEAD", b"/nope") + req(b"GET", b"/readyz", [b"Connection: close"]),
    "connection_close": req(b"GET", b"/healthz", [b"Connection: close"]) + req(b"GET", b"/readyz"),
    "http10_keepalive": b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /readyz HTTP/1.0\r\n\r\n",
}
http.update(framing)
for name, body in http.items():
    write("fuzz_http_handlers", name, body)

# --- Request heads alone (RequestHead): the HTTP seeds (a prefix selector byte is just a byte
# here), each with a cutting seed in its last 4 bytes --------------------------------------------------------------
for i, (name, body) in enumerate(http.items()):
    write("fuzz_request_head", name, body[:4096] + seeds(i))

# --- RESP replies (first byte: how many bytes each feed carries) ------------------------------
resp = {
    "xrange": b"*2\r\n*2\r\n$15\r\n1734567890123-0\r\n*4\r\n$4\r\ntype\r\n$7\r\nmessage\r\n$4\r\ntext\r\n$5\r\nhello\r\n"
              b"*2\r\n$15\r\n1734567890123-1\r\n*2\r\n$4\r\ntype\r\n$4\r\ndone\r\n",
    "script_results": b"*3\r\n*2\r\n:3\r\n:0\r\n-ENDED the run was ended\r\n*2\r\n:1\r\n:1\r\n",
    "mixed": b"+OK\r\n:42\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n-ERR bad\r\n",
    "nested": b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n",
    "xread_nil": b"*-1\r\n*1\r\n*2\r\n$14\r\nagent-stream:x\r\n*0\r\n",
    "bad_type": b"*2\r\n:1\r\n!oops\r\n",
}
for i, (name, body) in enumerate(resp.items()):
    write("fuzz_resp_replies", name, bytes([i * 7 % 64]) + body)

print("seeds written to", CORPUS)
