;; The line pass of the row index (src/audience-sync/rowLines.ts) over a piece of a CSV
;; snapshot staged in this module's memory: it finds each LF-ended line and fingerprints
;; its bytes (the LF excluded) with MurmurHash3 x86_128, the same words as
;; src/snapshot/rowFingerprint.ts (test/unit/snapshot/lineFingerprints.test.ts compares the
;; two line by line). One pass of 16-byte loads: a SIMD compare finds the LF in a block, and
;; a block without one is mixed into the hash straight away. In JavaScript the LF search and
;; the hash were a quarter of a churn sync's prepare.
(module
  (memory (export "memory") 1)
  (global $C1 i32 (i32.const 0x239b961b))
  (global $C2 i32 (i32.const 0xab0e9789))
  (global $C3 i32 (i32.const 0x38b34ae5))
  (global $C4 i32 (i32.const 0xa1e38b93))
  ;; Where the scan stopped: the start of the first line not reported.
  (global $at (export "at") (mut i32) (i32.const 0))

  (func $fmix (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))

  ;; The low n bytes (0..4) of x.
  (func $low (param $x i32) (param $n i32) (result i32)
    (if (result i32) (i32.ge_u (local.get $n) (i32.const 4))
      (then (local.get $x))
      (else (i32.and (local.get $x) (i32.sub (i32.shl (i32.const 1) (i32.shl (local.get $n) (i32.const 3))) (i32.const 1))))))

  ;; Lines of [p, end) whose LF lies before $stop, at most $max of them: per line 5 words
  ;; at $out (its LF's offset, then the fingerprint, most significant word first). Returns
  ;; the count; $at is where the next line starts. 16 readable bytes must follow $end.
  (func (export "lines") (param $p i32) (param $end i32) (param $stop i32) (param $seed i32) (param $out i32) (param $max i32) (result i32)
    (local $n i32) (local $s i32) (local $i i32) (local $m i32) (local $r i32) (local $len i32)
    (local $h1 i32) (local $h2 i32) (local $h3 i32) (local $h4 i32)
    (local $k1 i32) (local $k2 i32) (local $k3 i32) (local $k4 i32)
    (local $lf v128)
    (local.set $lf (i8x16.splat (i32.const 10)))
    (local.set $s (local.get $p))
    (block $done
      (loop $line
        (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
        (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
        (local.set $i (local.get $s))
        (local.set $h1 (local.get $seed))
        (local.set $h2 (local.get $seed))
        (local.set $h3 (local.get $seed))
        (local.set $h4 (local.get $seed))
        (loop $block
          ;; LF positions in these 16 bytes, those at or past $end dropped.
          (local.set $m (i8x16.bitmask (i8x16.eq (v128.load (local.get $i)) (local.get $lf))))
          (if (i32.lt_u (i32.sub (local.get $end) (local.get $i)) (i32.const 16))
            (then (local.set $m (i32.and (local.get $m)
              (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $end) (local.get $i))) (i32.const 1))))))
          (if (i32.eqz (local.get $m))
            (then
              ;; No LF: a whole block of the line, unless the input ends here.
              (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
              (local.set $k1 (i32.mul (i32.rotl (i32.mul (i32.load (local.get $i)) (global.get $C1)) (i32.const 15)) (global.get $C2)))
              (local.set $h1 (i32.xor (local.get $h1) (local.get $k1)))
              (local.set $h1 (i32.add (i32.mul (i32.add (i32.rotl (local.get $h1) (i32.const 19)) (local.get $h2)) (i32.const 5)) (i32.const 0x561ccd1b)))
              (local.set $k2 (i32.mul (i32.rotl (i32.mul (i32.load offset=4 (local.get $i)) (global.get $C2)) (i32.const 16)) (global.get $C3)))
              (local.set $h2 (i32.xor (local.get $h2) (local.get $k2)))
              (local.set $h2 (i32.add (i32.mul (i32.add (i32.rotl (local.get $h2) (i32.const 17)) (local.get $h3)) (i32.const 5)) (i32.const 0x0bcaa747)))
              (local.set $k3 (i32.mul (i32.rotl (i32.mul (i32.load offset=8 (local.get $i)) (global.get $C3)) (i32.const 17)) (global.get $C4)))
              (local.set $h3 (i32.xor (local.get $h3) (local.get $k3)))
              (local.set $h3 (i32.add (i32.mul (i32.add (i32.rotl (local.get $h3) (i32.const 15)) (local.get $h4)) (i32.const 5)) (i32.const 0x96cd1c35)))
              (local.set $k4 (i32.mul (i32.rotl (i32.mul (i32.load offset=12 (local.get $i)) (global.get $C4)) (i32.const 18)) (global.get $C1)))
              (local.set $h4 (i32.xor (local.get $h4) (local.get $k4)))
              (local.set $h4 (i32.add (i32.mul (i32.add (i32.rotl (local.get $h4) (i32.const 13)) (local.get $h1)) (i32.const 5)) (i32.const 0x32ac3b17)))
              (local.set $i (i32.add (local.get $i) (i32.const 16)))
              (br $block))))
        ;; The LF is at $i + $r: the line's last $r bytes are its tail.
        (local.set $r (i32.ctz (local.get $m)))
        (br_if $done (i32.ge_u (i32.add (local.get $i) (local.get $r)) (local.get $stop)))
        (if (i32.gt_u (local.get $r) (i32.const 12))
          (then
            (local.set $k4 (call $low (i32.load offset=12 (local.get $i)) (i32.sub (local.get $r) (i32.const 12))))
            (local.set $h4 (i32.xor (local.get $h4)
              (i32.mul (i32.rotl (i32.mul (local.get $k4) (global.get $C4)) (i32.const 18)) (global.get $C1))))))
        (if (i32.gt_u (local.get $r) (i32.const 8))
          (then
            (local.set $k3 (call $low (i32.load offset=8 (local.get $i)) (i32.sub (local.get $r) (i32.const 8))))
            (local.set $h3 (i32.xor (local.get $h3)
              (i32.mul (i32.rotl (i32.mul (local.get $k3) (global.get $C3)) (i32.const 17)) (global.get $C4))))))
        (if (i32.gt_u (local.get $r) (i32.const 4))
          (then
            (local.set $k2 (call $low (i32.load offset=4 (local.get $i)) (i32.sub (local.get $r) (i32.const 4))))
            (local.set $h2 (i32.xor (local.get $h2)
              (i32.mul (i32.rotl (i32.mul (local.get $k2) (global.get $C2)) (i32.const 16)) (global.get $C3))))))
        (if (i32.gt_u (local.get $r) (i32.const 0))
          (then
            (local.set $k1 (call $low (i32.load (local.get $i)) (local.get $r)))
            (local.set $h1 (i32.xor (local.get $h1)
              (i32.mul (i32.rotl (i32.mul (local.get $k1) (global.get $C1)) (i32.const 15)) (global.get $C2))))))
        (local.set $len (i32.sub (i32.add (local.get $i) (local.get $r)) (local.get $s)))
        (local.set $h1 (i32.xor (local.get $h1) (local.get $len)))
        (local.set $h2 (i32.xor (local.get $h2) (local.get $len)))
        (local.set $h3 (i32.xor (local.get $h3) (local.get $len)))
        (local.set $h4 (i32.xor (local.get $h4) (local.get $len)))
        (local.set $h1 (i32.add (i32.add (local.get $h1) (local.get $h2)) (i32.add (local.get $h3) (local.get $h4))))
        (local.set $h2 (i32.add (local.get $h2) (local.get $h1)))
        (local.set $h3 (i32.add (local.get $h3) (local.get $h1)))
        (local.set $h4 (i32.add (local.get $h4) (local.get $h1)))
        (local.set $h1 (call $fmix (local.get $h1)))
        (local.set $h2 (call $fmix (local.get $h2)))
        (local.set $h3 (call $fmix (local.get $h3)))
        (local.set $h4 (call $fmix (local.get $h4)))
        (local.set $h1 (i32.add (i32.add (local.get $h1) (local.get $h2)) (i32.add (local.get $h3) (local.get $h4))))
        (local.set $h2 (i32.add (local.get $h2) (local.get $h1)))
        (local.set $h3 (i32.add (local.get $h3) (local.get $h1)))
        (local.set $h4 (i32.add (local.get $h4) (local.get $h1)))
        (i32.store (local.get $out) (i32.add (local.get $i) (local.get $r)))
        (i32.store offset=4 (local.get $out) (local.get $h1))
        (i32.store offset=8 (local.get $out) (local.get $h2))
        (i32.store offset=12 (local.get $out) (local.get $h3))
        (i32.store offset=16 (local.get $out) (local.get $h4))
        (local.set $out (i32.add (local.get $out) (i32.const 20)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $s (i32.add (i32.add (local.get $i) (local.get $r)) (i32.const 1)))
        (br $line)))
    (global.set $at (local.get $s))
    (local.get $n))
)
