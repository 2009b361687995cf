%% http_hello: the Erlang peer of troupe-web-echo's GET /hello for bench/http_rps.sh. gen_tcp with
%% the runtime's own HTTP packet parser ({packet, http_bin}), one process per connection, HTTP/1.1
%% keep-alive: every request gets the same 13-byte text body. No routing, no handler process
%% behind the connection (troupe asks a route's actor and waits for its answer): a lower bound
%% on what an Erlang server does per request, so it favours the peer.
%%     erl -noshell -pa <dir> -s http_hello main <port>
%% Prints "READY <port>" and serves until its standard input closes.
-module(http_hello).
-export([main/1]).

main([PortS]) ->
    Port = list_to_integer(atom_to_list(PortS)),
    {ok, L} = gen_tcp:listen(Port, [binary, {ip, {127,0,0,1}}, {packet, http_bin}, {active, false},
                                    {reuseaddr, true}, {backlog, 4096}, {nodelay, true}]),
    {ok, RealPort} = inet:port(L),
    io:format("READY ~p~n", [RealPort]),
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
            Pid = spawn(fun() -> receive go -> request(S) end end),
            ok = gen_tcp:controlling_process(S, Pid),
            Pid ! go,
            accept(L);
        {error, _} ->
            timer:sleep(10),
            accept(L)
    end.

request(S) ->
    case gen_tcp:recv(S, 0, 10000) of
        {ok, {http_request, _Method, _Path, _Version}} -> headers(S, true);
        _ -> gen_tcp:close(S)
    end.

headers(S, KeepAlive) ->
    case gen_tcp:recv(S, 0, 10000) of
        {ok, {http_header, _, 'Connection', _, V}} ->
            headers(S, string:lowercase(V) =/= <<"close">>);
        {ok, {http_header, _, _, _, _}} ->
            headers(S, KeepAlive);
        {ok, http_eoh} ->
            ok = gen_tcp:send(S, <<"HTTP/1.1 200 OK\r\nServer: erlang\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                   "Content-Length: 13\r\n\r\nhello, world\n">>),
            case KeepAlive of
                true -> request(S);
                false -> gen_tcp:close(S)
            end;
        _ -> gen_tcp:close(S)
    end.
