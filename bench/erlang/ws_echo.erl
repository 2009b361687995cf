%% ws_echo: the Erlang peer of troupe-web-echo for the `websockets` workload. Plain OTP, nothing
%% outside erlang-base and erlang-crypto (cowboy is not packaged in Debian): gen_tcp, a minimal
%% RFC 6455 server. One process per connection reads the upgrade request with the runtime's own
%% HTTP packet parser ({packet, http_bin}), answers 101 (the accept key is SHA-1 + base64), then
%% switches to {packet, raw} with {active, once}: it unmasks each client frame and echoes it as
%% one unmasked frame of the same opcode, asking for the next packet only after it has echoed
%% (the demand-driven shape of troupe's actor). Ping gets pong, close gets close. No extensions,
%% no fragmentation bookkeeping (each frame is echoed as it comes), no UTF-8 check: a bench peer,
%% lighter than a full server, which favours it. Started by troupe-bench websockets --erlang=1:
%%     erl -noshell +P 4000000 +Q 1048576 -pa <dir> -s ws_echo main <port> <reuseport 0|1>
%% Prints "READY <port>" and serves until its standard input closes.
-module(ws_echo).
-export([main/1]).

main([PortS, ReuseS]) ->
    Port = list_to_integer(atom_to_list(PortS)),
    Reuse = case atom_to_list(ReuseS) of "1" -> [{raw, 1, 15, <<1:32/native>>}]; _ -> [] end,
    {ok, L} = gen_tcp:listen(Port, [binary, {ip, {127,0,0,1}}, {packet, http_bin}, {active, false},
                                    {reuseaddr, true}, {backlog, 4096}, {nodelay, true} | Reuse]),
    {ok, RealPort} = inet:port(L),
    io:format("READY ~p~n", [RealPort]),
    spawn(fun() -> accept(L) end),
    spawn(fun() -> accept(L) end),
    wait_stdin().

wait_stdin() ->
    case io:get_line("") of
        eof -> halt(0);
        {error, _} -> halt(0);
        _ -> wait_stdin()
    end.

accept(L) ->
    case gen_tcp:accept(L) of
        {ok, S} ->
            Pid = spawn(fun() -> receive go -> handshake(S) end end),
            ok = gen_tcp:controlling_process(S, Pid),
            Pid ! go,
            accept(L);
        {error, emfile} ->
            timer:sleep(50),
            accept(L);
        {error, _} ->
            accept(L)
    end.

handshake(S) ->
    case gen_tcp:recv(S, 0, 60000) of
        {ok, {http_request, 'GET', _, _}} -> headers(S, undefined);
        _ -> gen_tcp:close(S)
    end.

headers(S, Key) ->
    case gen_tcp:recv(S, 0, 60000) of
        {ok, {http_header, _, _, Name, Value}} ->
            case string:lowercase(Name) of
                <<"sec-websocket-key">> -> headers(S, Value);
                _ -> headers(S, Key)
            end;
        {ok, http_eoh} when Key =/= undefined ->
            Accept = base64:encode(crypto:hash(sha, <<Key/binary, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11">>)),
            ok = gen_tcp:send(S, [<<"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\nSec-WebSocket-Accept: ">>, Accept, <<"\r\n\r\n">>]),
            ok = inet:setopts(S, [{packet, raw}]),
            loop(S, <<>>);
        {ok, http_eoh} ->
            gen_tcp:send(S, <<"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n">>),
            gen_tcp:close(S);
        _ -> gen_tcp:close(S)
    end.

loop(S, Buf) ->
    case frames(S, Buf) of
        closed -> gen_tcp:close(S);
        Rest ->
            ok = inet:setopts(S, [{active, once}]),
            receive
                {tcp, S, Data} -> loop(S, <<Rest/binary, Data/binary>>);
                {tcp_closed, S} -> ok;
                {tcp_error, S, _} -> ok
            end
    end.

%% Echoes every whole frame in Buf; returns what is left (a partial frame), or closed.
frames(S, <<_Fin:1, _Rsv:3, Op:4, 1:1, 126:7, Len:16, Mask:4/binary, P:Len/binary, Rest/binary>>) ->
    frame(S, Op, unmask(P, Mask), Rest);
frames(S, <<_Fin:1, _Rsv:3, Op:4, 1:1, 127:7, Len:64, Mask:4/binary, P:Len/binary, Rest/binary>>) ->
    frame(S, Op, unmask(P, Mask), Rest);
frames(S, <<_Fin:1, _Rsv:3, Op:4, 1:1, Len:7, Mask:4/binary, P:Len/binary, Rest/binary>>) when Len < 126 ->
    frame(S, Op, unmask(P, Mask), Rest);
frames(_S, Buf) -> Buf.

frame(S, 8, P, _Rest) -> gen_tcp:send(S, [header(8, byte_size(P)), P]), closed;
frame(S, 9, P, Rest) -> gen_tcp:send(S, [header(10, byte_size(P)), P]), frames(S, Rest);
frame(S, 10, _P, Rest) -> frames(S, Rest);
frame(S, Op, P, Rest) -> gen_tcp:send(S, [header(Op, byte_size(P)), P]), frames(S, Rest).

header(Op, Len) when Len < 126 -> <<1:1, 0:3, Op:4, 0:1, Len:7>>;
header(Op, Len) when Len < 65536 -> <<1:1, 0:3, Op:4, 0:1, 126:7, Len:16>>;
header(Op, Len) -> <<1:1, 0:3, Op:4, 0:1, 127:7, Len:64>>.

unmask(P, Mask) ->
    N = byte_size(P),
    Keys = binary:part(binary:copy(Mask, N div 4 + 1), 0, N),
    crypto:exor(P, Keys).
