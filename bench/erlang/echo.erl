%% echo: the Erlang peer of troupe-echo for the `connections` workload. gen_tcp with
%% {active, once}: one process per connection, which asks for the next packet only after it has
%% echoed this one. Started by troupe-bench connections --erlang=1:
%%     erl -noshell +P 4000000 +Q 1048576 -pa <dir> -s echo main <port> <reuseport 0|1>
%% Prints "READY <port>" and serves until its standard input closes.
-module(echo).
-export([main/1]).

main([PortS, ReuseS]) ->
    Port = list_to_integer(atom_to_list(PortS)),
    Reuse = case atom_to_list(ReuseS) of "1" -> [{raw, 1, 15, <<1:32/native>>}]; _ -> [] end,
    {ok, L} = gen_tcp:listen(Port, [binary, {ip, {127,0,0,1}}, {packet, raw}, {active, false},
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
            Pid = spawn(fun() -> receive go -> loop(S) end end),
            ok = gen_tcp:controlling_process(S, Pid),
            Pid ! go,
            accept(L);
        {error, emfile} ->
            timer:sleep(50),
            accept(L);
        {error, _} ->
            accept(L)
    end.

loop(S) ->
    ok = inet:setopts(S, [{active, once}]),
    receive
        {tcp, S, Data} ->
            gen_tcp:send(S, Data),
            loop(S);
        {tcp_closed, S} -> ok;
        {tcp_error, S, _} -> ok
    end.
