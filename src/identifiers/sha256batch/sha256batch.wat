;; SHA-256 of many independent messages in one call, 4 messages per pass in the 4 lanes of
;; WebAssembly SIMD (i32x4), written straight out as lowercase hex.
;;
;; Why: identifiers are short (almost all fit one 64-byte block), and one native
;; crypto.hash call per value costs more than compressing the block itself. Here one call
;; from JS hashes thousands of values; each pass compresses one block of 4 messages.
;;
;; Interface (all offsets are byte addresses in the exported memory):
;;   sha256_hex(desc, n, out)
;;     desc: n pairs of little-endian u32 (message address, message length in bytes)
;;     out:  receives n * 64 bytes, the lowercase hex digest of message i at out + 64 i
;;   Messages may have any length (< 2^28 bytes). The caller keeps at least SLACK (128)
;;   readable bytes after the end of every message: blocks are read 16 bytes at a time and
;;   bytes past the end are masked off, never used.
;;
;; Memory layout owned by this module: [0, 256) round constants K, [256, 1280) the message
;; schedule W[0..63] (one v128 of 4 lanes each), [1280, 1408) the state H0..H7, [1408, 1664)
;; the current block of each lane (64 bytes, already big-endian words). The caller's data
;; starts at DATA_START (4096).
(module
  (memory (export "memory") 2)
  (global (export "DATA_START") i32 (i32.const 4096))
  (global (export "SLACK") i32 (i32.const 128))

  (data (i32.const 0)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")


  ;; One compression of the 4 lanes' blocks in W[0..15] into H; lanes whose mask is zero
  ;; keep their state (their message has fewer blocks than another lane's).
  (func $compress (param $active v128)
    (local $t i32) (local $tw i32) (local $p i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $e v128) (local $f v128) (local $g v128) (local $h v128)
    (local $w15 v128) (local $w2 v128) (local $t1 v128) (local $t2 v128)
    (local $m0 v128) (local $m1 v128)
    ;; Message schedule W[16..63].
    ;; $p is the address of W[t-16]; W[t-15], W[t-7], W[t-2] and W[t] follow at fixed offsets.
    (local.set $p (i32.const 256))
    (loop $sched
      (local.set $w15 (v128.load offset=16 (local.get $p)))
      (local.set $w2 (v128.load offset=224 (local.get $p)))
      (v128.store offset=256 (local.get $p)
        (i32x4.add
          (i32x4.add (v128.load offset=0 (local.get $p)) (v128.load offset=144 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $w15) (i32.const 7)) (i32x4.shl (local.get $w15) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $w15) (i32.const 18)) (i32x4.shl (local.get $w15) (i32.const 14))))
                      (i32x4.shr_u (local.get $w15) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $w2) (i32.const 17)) (i32x4.shl (local.get $w2) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $w2) (i32.const 19)) (i32x4.shl (local.get $w2) (i32.const 13))))
                      (i32x4.shr_u (local.get $w2) (i32.const 10))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br_if $sched (i32.lt_u (local.get $p) (i32.const 1024))))
    (local.set $a (v128.load offset=1280 (i32.const 0)))
    (local.set $b (v128.load offset=1296 (i32.const 0)))
    (local.set $c (v128.load offset=1312 (i32.const 0)))
    (local.set $d (v128.load offset=1328 (i32.const 0)))
    (local.set $e (v128.load offset=1344 (i32.const 0)))
    (local.set $f (v128.load offset=1360 (i32.const 0)))
    (local.set $g (v128.load offset=1376 (i32.const 0)))
    (local.set $h (v128.load offset=1392 (i32.const 0)))
    ;; 8 rounds per iteration, the variables' roles rotating instead of 8 moves per round
    ;; ($t = 4 * round for K, $tw = 16 * round for W). Maj(a, b, c) is written
    ;; b ^ ((a ^ b) & (b ^ c)): this round's a ^ b is the next round's b ^ c ($m0/$m1), one
    ;; vector op fewer per round than a bitselect (3 ops on x64). Ch(e, f, g) is f where e is 1
    ;; and g elsewhere.
    (local.set $t (i32.const 0))
    (local.set $tw (i32.const 0))
    (local.set $m1 (v128.xor (local.get $b) (local.get $c)))
    (loop $round
      ;; round t+0
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $h)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $e) (i32.const 6)) (i32x4.shl (local.get $e) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $e) (i32.const 11)) (i32x4.shl (local.get $e) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $e) (i32.const 25)) (i32x4.shl (local.get $e) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $f) (local.get $g) (local.get $e))
            (i32x4.add (v128.load32_splat offset=0 (local.get $t)) (v128.load offset=256 (local.get $tw))))))
      (local.set $d (i32x4.add (local.get $d) (local.get $t1)))
      (local.set $h
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $a) (i32.const 2)) (i32x4.shl (local.get $a) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $a) (i32.const 13)) (i32x4.shl (local.get $a) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $a) (i32.const 22)) (i32x4.shl (local.get $a) (i32.const 10))))
            (v128.xor (local.get $b) (v128.and (local.tee $m0 (v128.xor (local.get $a) (local.get $b))) (local.get $m1))))))
      ;; round t+1
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $g)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $d) (i32.const 6)) (i32x4.shl (local.get $d) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $d) (i32.const 11)) (i32x4.shl (local.get $d) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $d) (i32.const 25)) (i32x4.shl (local.get $d) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $e) (local.get $f) (local.get $d))
            (i32x4.add (v128.load32_splat offset=4 (local.get $t)) (v128.load offset=272 (local.get $tw))))))
      (local.set $c (i32x4.add (local.get $c) (local.get $t1)))
      (local.set $g
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $h) (i32.const 2)) (i32x4.shl (local.get $h) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $h) (i32.const 13)) (i32x4.shl (local.get $h) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $h) (i32.const 22)) (i32x4.shl (local.get $h) (i32.const 10))))
            (v128.xor (local.get $a) (v128.and (local.tee $m1 (v128.xor (local.get $h) (local.get $a))) (local.get $m0))))))
      ;; round t+2
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $f)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $c) (i32.const 6)) (i32x4.shl (local.get $c) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $c) (i32.const 11)) (i32x4.shl (local.get $c) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $c) (i32.const 25)) (i32x4.shl (local.get $c) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $d) (local.get $e) (local.get $c))
            (i32x4.add (v128.load32_splat offset=8 (local.get $t)) (v128.load offset=288 (local.get $tw))))))
      (local.set $b (i32x4.add (local.get $b) (local.get $t1)))
      (local.set $f
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $g) (i32.const 2)) (i32x4.shl (local.get $g) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $g) (i32.const 13)) (i32x4.shl (local.get $g) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $g) (i32.const 22)) (i32x4.shl (local.get $g) (i32.const 10))))
            (v128.xor (local.get $h) (v128.and (local.tee $m0 (v128.xor (local.get $g) (local.get $h))) (local.get $m1))))))
      ;; round t+3
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $e)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $b) (i32.const 6)) (i32x4.shl (local.get $b) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $b) (i32.const 11)) (i32x4.shl (local.get $b) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $b) (i32.const 25)) (i32x4.shl (local.get $b) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $c) (local.get $d) (local.get $b))
            (i32x4.add (v128.load32_splat offset=12 (local.get $t)) (v128.load offset=304 (local.get $tw))))))
      (local.set $a (i32x4.add (local.get $a) (local.get $t1)))
      (local.set $e
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $f) (i32.const 2)) (i32x4.shl (local.get $f) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $f) (i32.const 13)) (i32x4.shl (local.get $f) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $f) (i32.const 22)) (i32x4.shl (local.get $f) (i32.const 10))))
            (v128.xor (local.get $g) (v128.and (local.tee $m1 (v128.xor (local.get $f) (local.get $g))) (local.get $m0))))))
      ;; round t+4
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $d)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $a) (i32.const 6)) (i32x4.shl (local.get $a) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $a) (i32.const 11)) (i32x4.shl (local.get $a) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $a) (i32.const 25)) (i32x4.shl (local.get $a) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $b) (local.get $c) (local.get $a))
            (i32x4.add (v128.load32_splat offset=16 (local.get $t)) (v128.load offset=320 (local.get $tw))))))
      (local.set $h (i32x4.add (local.get $h) (local.get $t1)))
      (local.set $d
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $e) (i32.const 2)) (i32x4.shl (local.get $e) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $e) (i32.const 13)) (i32x4.shl (local.get $e) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $e) (i32.const 22)) (i32x4.shl (local.get $e) (i32.const 10))))
            (v128.xor (local.get $f) (v128.and (local.tee $m0 (v128.xor (local.get $e) (local.get $f))) (local.get $m1))))))
      ;; round t+5
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $c)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $h) (i32.const 6)) (i32x4.shl (local.get $h) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $h) (i32.const 11)) (i32x4.shl (local.get $h) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $h) (i32.const 25)) (i32x4.shl (local.get $h) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $a) (local.get $b) (local.get $h))
            (i32x4.add (v128.load32_splat offset=20 (local.get $t)) (v128.load offset=336 (local.get $tw))))))
      (local.set $g (i32x4.add (local.get $g) (local.get $t1)))
      (local.set $c
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $d) (i32.const 2)) (i32x4.shl (local.get $d) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $d) (i32.const 13)) (i32x4.shl (local.get $d) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $d) (i32.const 22)) (i32x4.shl (local.get $d) (i32.const 10))))
            (v128.xor (local.get $e) (v128.and (local.tee $m1 (v128.xor (local.get $d) (local.get $e))) (local.get $m0))))))
      ;; round t+6
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $b)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $g) (i32.const 6)) (i32x4.shl (local.get $g) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $g) (i32.const 11)) (i32x4.shl (local.get $g) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $g) (i32.const 25)) (i32x4.shl (local.get $g) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $h) (local.get $a) (local.get $g))
            (i32x4.add (v128.load32_splat offset=24 (local.get $t)) (v128.load offset=352 (local.get $tw))))))
      (local.set $f (i32x4.add (local.get $f) (local.get $t1)))
      (local.set $b
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $c) (i32.const 2)) (i32x4.shl (local.get $c) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $c) (i32.const 13)) (i32x4.shl (local.get $c) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $c) (i32.const 22)) (i32x4.shl (local.get $c) (i32.const 10))))
            (v128.xor (local.get $d) (v128.and (local.tee $m0 (v128.xor (local.get $c) (local.get $d))) (local.get $m1))))))
      ;; round t+7
      (local.set $t1
        (i32x4.add
          (i32x4.add (local.get $a)
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $f) (i32.const 6)) (i32x4.shl (local.get $f) (i32.const 26))) (v128.or (i32x4.shr_u (local.get $f) (i32.const 11)) (i32x4.shl (local.get $f) (i32.const 21)))) (v128.or (i32x4.shr_u (local.get $f) (i32.const 25)) (i32x4.shl (local.get $f) (i32.const 7)))))
          (i32x4.add (v128.bitselect (local.get $g) (local.get $h) (local.get $f))
            (i32x4.add (v128.load32_splat offset=28 (local.get $t)) (v128.load offset=368 (local.get $tw))))))
      (local.set $e (i32x4.add (local.get $e) (local.get $t1)))
      (local.set $a
        (i32x4.add (local.get $t1)
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $b) (i32.const 2)) (i32x4.shl (local.get $b) (i32.const 30))) (v128.or (i32x4.shr_u (local.get $b) (i32.const 13)) (i32x4.shl (local.get $b) (i32.const 19)))) (v128.or (i32x4.shr_u (local.get $b) (i32.const 22)) (i32x4.shl (local.get $b) (i32.const 10))))
            (v128.xor (local.get $c) (v128.and (local.tee $m1 (v128.xor (local.get $b) (local.get $c))) (local.get $m0))))))
      (local.set $t (i32.add (local.get $t) (i32.const 32)))
      (local.set $tw (i32.add (local.get $tw) (i32.const 128)))
      (br_if $round (i32.lt_u (local.get $t) (i32.const 256))))
    ;; H += state, in active lanes only.
    (v128.store offset=1280 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1280 (i32.const 0)) (local.get $a)) (v128.load offset=1280 (i32.const 0)) (local.get $active)))
    (v128.store offset=1296 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1296 (i32.const 0)) (local.get $b)) (v128.load offset=1296 (i32.const 0)) (local.get $active)))
    (v128.store offset=1312 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1312 (i32.const 0)) (local.get $c)) (v128.load offset=1312 (i32.const 0)) (local.get $active)))
    (v128.store offset=1328 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1328 (i32.const 0)) (local.get $d)) (v128.load offset=1328 (i32.const 0)) (local.get $active)))
    (v128.store offset=1344 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1344 (i32.const 0)) (local.get $e)) (v128.load offset=1344 (i32.const 0)) (local.get $active)))
    (v128.store offset=1360 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1360 (i32.const 0)) (local.get $f)) (v128.load offset=1360 (i32.const 0)) (local.get $active)))
    (v128.store offset=1376 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1376 (i32.const 0)) (local.get $g)) (v128.load offset=1376 (i32.const 0)) (local.get $active)))
    (v128.store offset=1392 (i32.const 0)
      (v128.bitselect (i32x4.add (v128.load offset=1392 (i32.const 0)) (local.get $h)) (v128.load offset=1392 (i32.const 0)) (local.get $active))))

  (func (export "sha256_hex") (param $desc i32) (param $n i32) (param $out i32)
    (call $sha256 (local.get $desc) (local.get $n) (local.get $out) (i32.const 0)))

  ;; The digests as their 32 raw bytes, message i at out + 32 i (the data plane's records:
  ;; no hex written here only to be decoded again in JS).
  (func (export "sha256_raw") (param $desc i32) (param $n i32) (param $out i32)
    (call $sha256 (local.get $desc) (local.get $n) (local.get $out) (i32.const 1)))

  (func $sha256 (param $desc i32) (param $n i32) (param $out i32) (param $raw i32)
    (local $i i32) (local $j i32) (local $k i32) (local $blocks i32) (local $nb i32)
    (local $src i32) (local $len i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $l0 i32) (local $l1 i32) (local $l2 i32) (local $l3 i32)
    (local $last v128) (local $bits v128) (local $kv v128)
    (local $r v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local $hv v128) (local $hhi v128) (local $hlo v128) (local $ho i32)
    (local.set $i (i32.const 0))
    (block $done
      (loop $group
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; Lanes past the end hash an empty message at lane 0's address; their output is dropped.
        (local.set $p0 (i32.load offset=0 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $l0 (i32.load offset=4 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $p1 (local.get $p0)) (local.set $l1 (i32.const 0))
        (local.set $p2 (local.get $p0)) (local.set $l2 (i32.const 0))
        (local.set $p3 (local.get $p0)) (local.set $l3 (i32.const 0))
        (if (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $n))
          (then
            (local.set $p1 (i32.load offset=8 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
            (local.set $l1 (i32.load offset=12 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))))
        (if (i32.lt_u (i32.add (local.get $i) (i32.const 2)) (local.get $n))
          (then
            (local.set $p2 (i32.load offset=16 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
            (local.set $l2 (i32.load offset=20 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))))
        (if (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $n))
          (then
            (local.set $p3 (i32.load offset=24 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
            (local.set $l3 (i32.load offset=28 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))))
        ;; Blocks per message: length + 1 (0x80) + 8 (bit length), rounded up to 64 bytes.
        (local.set $last (i32x4.splat (i32.shr_u (i32.add (local.get $l0) (i32.const 8)) (i32.const 6))))
        (local.set $last (i32x4.replace_lane 1 (local.get $last) (i32.shr_u (i32.add (local.get $l1) (i32.const 8)) (i32.const 6))))
        (local.set $last (i32x4.replace_lane 2 (local.get $last) (i32.shr_u (i32.add (local.get $l2) (i32.const 8)) (i32.const 6))))
        (local.set $last (i32x4.replace_lane 3 (local.get $last) (i32.shr_u (i32.add (local.get $l3) (i32.const 8)) (i32.const 6))))
        (local.set $blocks (i32.add (i32.const 1)
          (i32x4.extract_lane 0 (i32x4.max_u
            (i32x4.max_u (local.get $last) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $last) (local.get $last)))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7
              (i32x4.max_u (local.get $last) (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $last) (local.get $last)))
              (local.get $last))))))
        (local.set $bits (i32x4.splat (i32.shl (local.get $l0) (i32.const 3))))
        (local.set $bits (i32x4.replace_lane 1 (local.get $bits) (i32.shl (local.get $l1) (i32.const 3))))
        (local.set $bits (i32x4.replace_lane 2 (local.get $bits) (i32.shl (local.get $l2) (i32.const 3))))
        (local.set $bits (i32x4.replace_lane 3 (local.get $bits) (i32.shl (local.get $l3) (i32.const 3))))
        ;; Initial state.
        (v128.store offset=1280 (i32.const 0) (v128.const i32x4 0x6a09e667 0x6a09e667 0x6a09e667 0x6a09e667))
        (v128.store offset=1296 (i32.const 0) (v128.const i32x4 0xbb67ae85 0xbb67ae85 0xbb67ae85 0xbb67ae85))
        (v128.store offset=1312 (i32.const 0) (v128.const i32x4 0x3c6ef372 0x3c6ef372 0x3c6ef372 0x3c6ef372))
        (v128.store offset=1328 (i32.const 0) (v128.const i32x4 0xa54ff53a 0xa54ff53a 0xa54ff53a 0xa54ff53a))
        (v128.store offset=1344 (i32.const 0) (v128.const i32x4 0x510e527f 0x510e527f 0x510e527f 0x510e527f))
        (v128.store offset=1360 (i32.const 0) (v128.const i32x4 0x9b05688c 0x9b05688c 0x9b05688c 0x9b05688c))
        (v128.store offset=1376 (i32.const 0) (v128.const i32x4 0x1f83d9ab 0x1f83d9ab 0x1f83d9ab 0x1f83d9ab))
        (v128.store offset=1392 (i32.const 0) (v128.const i32x4 0x5be0cd19 0x5be0cd19 0x5be0cd19 0x5be0cd19))
        (local.set $k (i32.const 0))
        (loop $block
          ;; Lane 0: $rel = length - 64k clamped to [-1, 64]; bytes before it are message bytes,
          ;; byte $rel is the 0x80 terminator, later bytes are zero.
          (local.set $src (i32.add (local.get $p0) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (i32.sub (local.get $l0) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (select (i32.const 64) (local.get $len) (i32.gt_s (local.get $len) (i32.const 64))))
          (local.set $len (select (i32.const -1) (local.get $len) (i32.lt_s (local.get $len) (i32.const -1))))
          (local.set $r (i8x16.splat (local.get $len)))
          (v128.store offset=1408 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=0 (local.get $src)) (i8x16.lt_s (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1424 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=16 (local.get $src)) (i8x16.lt_s (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1440 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=32 (local.get $src)) (i8x16.lt_s (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1456 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=48 (local.get $src)) (i8x16.lt_s (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          ;; Lane 1: $rel = length - 64k clamped to [-1, 64]; bytes before it are message bytes,
          ;; byte $rel is the 0x80 terminator, later bytes are zero.
          (local.set $src (i32.add (local.get $p1) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (i32.sub (local.get $l1) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (select (i32.const 64) (local.get $len) (i32.gt_s (local.get $len) (i32.const 64))))
          (local.set $len (select (i32.const -1) (local.get $len) (i32.lt_s (local.get $len) (i32.const -1))))
          (local.set $r (i8x16.splat (local.get $len)))
          (v128.store offset=1472 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=0 (local.get $src)) (i8x16.lt_s (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1488 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=16 (local.get $src)) (i8x16.lt_s (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1504 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=32 (local.get $src)) (i8x16.lt_s (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1520 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=48 (local.get $src)) (i8x16.lt_s (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          ;; Lane 2: $rel = length - 64k clamped to [-1, 64]; bytes before it are message bytes,
          ;; byte $rel is the 0x80 terminator, later bytes are zero.
          (local.set $src (i32.add (local.get $p2) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (i32.sub (local.get $l2) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (select (i32.const 64) (local.get $len) (i32.gt_s (local.get $len) (i32.const 64))))
          (local.set $len (select (i32.const -1) (local.get $len) (i32.lt_s (local.get $len) (i32.const -1))))
          (local.set $r (i8x16.splat (local.get $len)))
          (v128.store offset=1536 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=0 (local.get $src)) (i8x16.lt_s (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1552 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=16 (local.get $src)) (i8x16.lt_s (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1568 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=32 (local.get $src)) (i8x16.lt_s (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1584 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=48 (local.get $src)) (i8x16.lt_s (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          ;; Lane 3: $rel = length - 64k clamped to [-1, 64]; bytes before it are message bytes,
          ;; byte $rel is the 0x80 terminator, later bytes are zero.
          (local.set $src (i32.add (local.get $p3) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (i32.sub (local.get $l3) (i32.shl (local.get $k) (i32.const 6))))
          (local.set $len (select (i32.const 64) (local.get $len) (i32.gt_s (local.get $len) (i32.const 64))))
          (local.set $len (select (i32.const -1) (local.get $len) (i32.lt_s (local.get $len) (i32.const -1))))
          (local.set $r (i8x16.splat (local.get $len)))
          (v128.store offset=1600 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=0 (local.get $src)) (i8x16.lt_s (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1616 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=16 (local.get $src)) (i8x16.lt_s (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1632 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=32 (local.get $src)) (i8x16.lt_s (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          (v128.store offset=1648 (i32.const 0)
            (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12
              (v128.or
                (v128.and (v128.load offset=48 (local.get $src)) (i8x16.lt_s (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)))
                (v128.and (i8x16.eq (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63) (local.get $r)) (v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080)))
              (v128.const i64x2 0 0)))
          ;; Rows of 4 words per lane -> W[0..15], one lane per message.
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1408 (i32.const 0)) (v128.load offset=1472 (i32.const 0))))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1408 (i32.const 0)) (v128.load offset=1472 (i32.const 0))))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1536 (i32.const 0)) (v128.load offset=1600 (i32.const 0))))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1536 (i32.const 0)) (v128.load offset=1600 (i32.const 0))))
          (v128.store offset=256 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (v128.store offset=272 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (v128.store offset=288 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (v128.store offset=304 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1424 (i32.const 0)) (v128.load offset=1488 (i32.const 0))))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1424 (i32.const 0)) (v128.load offset=1488 (i32.const 0))))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1552 (i32.const 0)) (v128.load offset=1616 (i32.const 0))))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1552 (i32.const 0)) (v128.load offset=1616 (i32.const 0))))
          (v128.store offset=320 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (v128.store offset=336 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (v128.store offset=352 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (v128.store offset=368 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1440 (i32.const 0)) (v128.load offset=1504 (i32.const 0))))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1440 (i32.const 0)) (v128.load offset=1504 (i32.const 0))))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1568 (i32.const 0)) (v128.load offset=1632 (i32.const 0))))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1568 (i32.const 0)) (v128.load offset=1632 (i32.const 0))))
          (v128.store offset=384 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (v128.store offset=400 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (v128.store offset=416 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (v128.store offset=432 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1456 (i32.const 0)) (v128.load offset=1520 (i32.const 0))))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1456 (i32.const 0)) (v128.load offset=1520 (i32.const 0))))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
            (v128.load offset=1584 (i32.const 0)) (v128.load offset=1648 (i32.const 0))))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
            (v128.load offset=1584 (i32.const 0)) (v128.load offset=1648 (i32.const 0))))
          (v128.store offset=448 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (v128.store offset=464 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (v128.store offset=480 (i32.const 0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (v128.store offset=496 (i32.const 0) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $kv (i32x4.splat (local.get $k)))
          ;; The last block of a lane ends with its bit length (lengths < 2^29 bytes: high word 0).
          (v128.store offset=496 (i32.const 0)
            (v128.bitselect (local.get $bits) (v128.load offset=496 (i32.const 0)) (i32x4.eq (local.get $kv) (local.get $last))))
          (call $compress (i32x4.le_u (local.get $kv) (local.get $last)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $block (i32.lt_u (local.get $k) (local.get $blocks))))
        ;; State back to one row per lane (reusing the lane block area), big-endian, as hex.
        (call $transpose_out (i32.const 1280) (i32.const 1408))
        (call $transpose_out (i32.const 1344) (i32.const 1424))
        (local.set $j (i32.const 0))
        (loop $lane
          (if (i32.lt_u (i32.add (local.get $i) (local.get $j)) (local.get $n))
            (then
              (if (local.get $raw)
                (then
                  ;; 8 state words, big-endian: the digest's bytes.
                  (local.set $ho (i32.add (local.get $out) (i32.shl (i32.add (local.get $i) (local.get $j)) (i32.const 5))))
                  (v128.store offset=0 (local.get $ho)
                    (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=1408 (i32.shl (local.get $j) (i32.const 6))) (local.get $hv)))
                  (v128.store offset=16 (local.get $ho)
                    (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (v128.load offset=1424 (i32.shl (local.get $j) (i32.const 6))) (local.get $hv))))
                (else
              ;; 4 state words (one lane's) as 32 lowercase hex characters, big-endian; twice,
              ;; written out (V8 does not inline WebAssembly calls).
              (local.set $hv (v128.load offset=1408 (i32.shl (local.get $j) (i32.const 6))))
              (local.set $ho (i32.add (local.get $out) (i32.shl (i32.add (local.get $i) (local.get $j)) (i32.const 6))))
              (local.set $hv (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (local.get $hv) (local.get $hv)))
              (local.set $hhi (i8x16.swizzle (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102) (i8x16.shr_u (local.get $hv) (i32.const 4))))
              (local.set $hlo (i8x16.swizzle (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102) (v128.and (local.get $hv) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))))
              (v128.store offset=0 (local.get $ho) (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $hhi) (local.get $hlo)))
              (v128.store offset=16 (local.get $ho) (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $hhi) (local.get $hlo)))
              (local.set $hv (v128.load offset=1424 (i32.shl (local.get $j) (i32.const 6))))
              (local.set $ho (i32.add (i32.add (local.get $out) (i32.shl (i32.add (local.get $i) (local.get $j)) (i32.const 6))) (i32.const 32)))
              (local.set $hv (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (local.get $hv) (local.get $hv)))
              (local.set $hhi (i8x16.swizzle (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102) (i8x16.shr_u (local.get $hv) (i32.const 4))))
              (local.set $hlo (i8x16.swizzle (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102) (v128.and (local.get $hv) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))))
              (v128.store offset=0 (local.get $ho) (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $hhi) (local.get $hlo)))
              (v128.store offset=16 (local.get $ho) (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $hhi) (local.get $hlo)))))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $lane (i32.lt_u (local.get $j) (i32.const 4))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $group))))

;; Records as customer-file lines: n records of w bytes (16 or 32; a multiple of 16) at
  ;; src become n lines of 2w lowercase hex characters and "\n" at dst (2w + 1 bytes each).
  ;; Why here: the same nibble swizzle as the digests' hex above, 16 bytes a step; in JS
  ;; (a table lookup per 2 bytes) this was most of a first sync's build after MD5.
  (func (export "hex_lines") (param $src i32) (param $n i32) (param $w i32) (param $dst i32)
    (local $end i32) (local $rec i32) (local $v v128) (local $hi v128) (local $lo v128)
    (local.set $end (i32.add (local.get $src) (i32.mul (local.get $n) (local.get $w))))
    (block $done
      (loop $line
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $rec (i32.add (local.get $src) (local.get $w)))
        (loop $part
          (local.set $v (v128.load (local.get $src)))
          (local.set $hi (i8x16.swizzle (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102) (i8x16.shr_u (local.get $v) (i32.const 4))))
          (local.set $lo (i8x16.swizzle (v128.const i8x16 48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102) (v128.and (local.get $v) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))))
          (v128.store offset=0 (local.get $dst) (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get $hi) (local.get $lo)))
          (v128.store offset=16 (local.get $dst) (i8x16.shuffle 8 24 9 25 10 26 11 27 12 28 13 29 14 30 15 31 (local.get $hi) (local.get $lo)))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (br_if $part (i32.lt_u (local.get $src) (local.get $rec))))
        (i32.store8 (local.get $dst) (i32.const 10))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (br $line))))

  ;; Inverse of $transpose_in: 4 lane vectors at $src (stride 16) into 4 rows at $dst
  ;; (stride 64): row j = lane j of vectors 0..3.
  (func $transpose_out (param $src i32) (param $dst i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (v128.load offset=0 (local.get $src)) (v128.load offset=16 (local.get $src))))
    (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (v128.load offset=0 (local.get $src)) (v128.load offset=16 (local.get $src))))
    (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (v128.load offset=32 (local.get $src)) (v128.load offset=48 (local.get $src))))
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (v128.load offset=32 (local.get $src)) (v128.load offset=48 (local.get $src))))
    (v128.store offset=0 (local.get $dst)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
    (v128.store offset=64 (local.get $dst)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
    (v128.store offset=128 (local.get $dst)
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
    (v128.store offset=192 (local.get $dst)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))))
)
