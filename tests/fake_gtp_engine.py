"""A GTP engine that misbehaves on purpose: `python fake_gtp_engine.py MODE`.

It answers GTP correctly until the first genmove, then, by MODE:
crash (exits with status 3), hang (never answers), garbage (answers with no '=' or '?'),
offboard (answers a vertex off the board), fine (plays the first empty point, or passes).
"""
import sys
import time

mode = sys.argv[1]
stones: set[str] = set()
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    command = words[0]
    if command == "genmove":
        if mode == "crash":
            print("fake engine: simulated crash", file=sys.stderr)
            sys.exit(3)
        if mode == "hang":
            time.sleep(3600)
        if mode == "garbage":
            print("I am not speaking GTP\n", flush=True)
            continue
        if mode == "offboard":
            print("= Z99\n", flush=True)
            continue
        free = next((f"{c}{r}" for r in range(1, 10) for c in "ABCDEFGHJ"
                     if f"{c}{r}" not in stones), "pass")
        stones.add(free)
        print(f"= {free}\n", flush=True)
        continue
    if command == "play" and len(words) == 3:
        stones.add(words[2].upper())
    if command == "clear_board":
        stones.clear()
    print("=\n", flush=True)
    if command == "quit":
        break
