"""worker/ranges.split_long: long ranges cut into the fewest equal pieces under a limit, end to end;
worker/joins: one leader per fingerprint."""

import threading

from worker import joins
from worker.ranges import split_long


def test_split_long_pieces_end_to_end_under_the_limit():
    assert split_long([(16, 1016)], 400) == [(16, 349), (349, 682), (682, 1016)]
    assert split_long([(0, 400)], 400) == [(0, 400)]                     # at the limit: one piece
    assert split_long([(0, 10), (20, 45)], 10) == [(0, 10), (20, 28), (28, 36), (36, 45)]
    assert split_long([(5, 9)], 0) == [(5, 9)]                           # 0 = no split
    for start, end, limit in ((0, 7201, 7176), (3, 100003, 7176), (0, 1, 1)):
        pieces = split_long([(start, end)], limit)
        assert pieces[0][0] == start and pieces[-1][1] == end
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
        assert all(0 < b - a <= limit for a, b in pieces)
        assert len(pieces) == -(-(end - start) // limit)


def test_split_long_cuts_between_lines_of_dialogue():
    assert split_long([(16, 1016)], 400, [(300, 360)]) == [(16, 360), (360, 682), (682, 1016)]
    # no pause within reach: the equal cut stays (a line longer than the slack is cut in two)
    assert split_long([(0, 800)], 400, [(100, 700)]) == [(0, 400), (400, 800)]
    lines = [(0, 185), (195, 410), (420, 600)]              # pauses 185..195 and 410..420
    assert split_long([(0, 600)], 250, lines) == [(0, 195), (195, 410), (410, 600)]   # slack 25 each way


def test_one_leader_per_fingerprint_across_threads():
    joins.clear()
    answers = []
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        answers.append((i, joins.claim("fp", f"job{i}")))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leaders = {leader for _i, leader in answers}
    assert len(leaders) == 1 and sum(f"job{i}" == leader for i, leader in answers) == 1
    [leader] = leaders
    assert not joins.release("fp", "job-other") and joins.leader("fp") == leader
    assert joins.release("fp", leader) and joins.claim("fp", "next") == "next"
    assert joins.claim("", "x") == "x"          # no fingerprint: never joined
    joins.clear()
