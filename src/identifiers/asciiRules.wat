;; The email and MAID rules of asciiRules.ts on bytes already in the SHA-256 kernel's
;; memory (it imports that memory): IdentifierHasher stages a thousand strings (or the
;; snapshot reader a piece of the file) there at once and normalizes each value from
;; where it lies into where the kernel reads it, so no JavaScript loop touches the bytes.
;; Same contract as asciiRules.ts: src [$s, $e) is the trimmed value, the normalized value
;; is written from $d ($d = $s: in place), and each function returns its length, or -1
;; (SLOW: let the string rules decide), -2 (INVALID) or -3 (ZEROED).
;; test/unit/identifiers/hasher.test.ts compares them with the string rules value by value.
;;
;; Tables (data below, in a gap the kernel does not use): [2048, 2304) the email class of
;; each byte (0 copy, 1 A-Z, 2 ASCII whitespace, 3 "@", 4 "+", 5 non-ASCII); [2304, 2560)
;; the lowercase hex digit of each byte (0 for anything else); [2816, 2912) the constant
;; parts of jsonLines.
(module
  (import "kernel" "memory" (memory 1))

  ;; Email: remove whitespace, lowercase, drop a "+suffix" of the local part when $drop,
  ;; then: one "@", local part 1-64, whole at most 254, domain labels of [a-z0-9-] not
  ;; starting or ending with "-", at least one dot, final label at least two letters.
  (func $email (export "email") (param $s i32) (param $e i32) (param $d i32) (param $drop i32) (result i32)
    (local $i i32) (local $o i32) (local $c i32) (local $k i32)
    (local $at i32) (local $ats i32) (local $plus i32)
    (local $lab i32) (local $dots i32) (local $letters i32) (local $v v128)
    (local.set $i (local.get $s))
    (local.set $o (local.get $d))
    (local.set $at (i32.const -1))
    (local.set $plus (i32.const -1))
    (block $done
      (loop $next
        ;; 16 bytes at a time while none is whitespace, "@", "+" or non-ASCII: copied with
        ;; A-Z lowercased. (Written at $o <= $i, after the load: safe in place.)
        (if (i32.le_u (i32.add (local.get $i) (i32.const 16)) (local.get $e))
          (then
            (local.set $v (v128.load (local.get $i)))
            (if (i32.eqz (i8x16.bitmask
                  (v128.or
                    (v128.or (i8x16.lt_s (local.get $v) (v128.const i8x16 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33))
                             (i8x16.eq (local.get $v) (v128.const i8x16 64 64 64 64 64 64 64 64 64 64 64 64 64 64 64 64)))
                    (i8x16.eq (local.get $v) (v128.const i8x16 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43)))))
              (then
                (v128.store (local.get $o)
                  (i8x16.add (local.get $v)
                    (v128.and (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65))
                                          (v128.const i8x16 26 26 26 26 26 26 26 26 26 26 26 26 26 26 26 26))
                              (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))))
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (local.set $o (i32.add (local.get $o) (i32.const 16)))
                (br $next)))))
        (br_if $done (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $i)))
        (local.set $k (i32.load8_u offset=2048 (local.get $c)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (local.get $k))
          (then
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $next)))
        (if (i32.eq (local.get $k) (i32.const 1))
          (then
            (i32.store8 (local.get $o) (i32.add (local.get $c) (i32.const 32)))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $next)))
        (br_if $next (i32.eq (local.get $k) (i32.const 2)))
        (if (i32.eq (local.get $k) (i32.const 3))
          (then
            (local.set $ats (i32.add (local.get $ats) (i32.const 1)))
            (local.set $at (local.get $o))
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $next)))
        (if (i32.eq (local.get $k) (i32.const 4))
          (then
            (if (i32.and (i32.lt_s (local.get $plus) (i32.const 0)) (i32.eqz (local.get $ats)))
              (then (local.set $plus (local.get $o))))
            (i32.store8 (local.get $o) (local.get $c))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $next)))
        (return (i32.const -1))))
    (if (i32.ne (local.get $ats) (i32.const 1)) (then (return (i32.const -2))))
    (if (i32.and (i32.ne (local.get $drop) (i32.const 0)) (i32.ge_s (local.get $plus) (i32.const 0)))
      (then
        ;; Move "@domain" down over "+suffix".
        (local.set $i (local.get $at))
        (block $moved
          (loop $move
            (br_if $moved (i32.ge_u (local.get $i) (local.get $o)))
            (i32.store8 (i32.add (local.get $plus) (i32.sub (local.get $i) (local.get $at))) (i32.load8_u (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $move)))
        (local.set $o (i32.sub (local.get $o) (i32.sub (local.get $at) (local.get $plus))))
        (local.set $at (local.get $plus))))
    (if (i32.lt_s (i32.sub (local.get $at) (local.get $d)) (i32.const 1)) (then (return (i32.const -2))))
    (if (i32.gt_s (i32.sub (local.get $at) (local.get $d)) (i32.const 64)) (then (return (i32.const -2))))
    (if (i32.gt_s (i32.sub (local.get $o) (local.get $d)) (i32.const 254)) (then (return (i32.const -2))))
    ;; The domain: ^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$
    (local.set $lab (i32.add (local.get $at) (i32.const 1)))
    (local.set $letters (i32.const 1))
    (local.set $i (local.get $lab))
    (block $bad
      (block $end
        (loop $d
          (br_if $end (i32.ge_u (local.get $i) (local.get $o)))
          (local.set $c (i32.load8_u (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          ;; a-z
          (br_if $d (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26)))
          (if (i32.eq (local.get $c) (i32.const 46))
            (then
              ;; "." at $i - 1 ends a label [$lab, $i - 1): not empty, no "-" at either end.
              (br_if $bad (i32.eq (i32.sub (local.get $i) (i32.const 1)) (local.get $lab)))
              (br_if $bad (i32.eq (i32.load8_u (local.get $lab)) (i32.const 45)))
              (br_if $bad (i32.eq (i32.load8_u (i32.sub (local.get $i) (i32.const 2))) (i32.const 45)))
              (local.set $dots (i32.add (local.get $dots) (i32.const 1)))
              (local.set $lab (local.get $i))
              (local.set $letters (i32.const 1))
              (br $d)))
          (br_if $bad (i32.eqz (i32.or (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10)) (i32.eq (local.get $c) (i32.const 45)))))
          (local.set $letters (i32.const 0))
          (br $d)))
      (br_if $bad (i32.eqz (local.get $dots)))
      (br_if $bad (i32.eqz (local.get $letters)))
      (br_if $bad (i32.lt_s (i32.sub (local.get $o) (local.get $lab)) (i32.const 2)))
      (return (i32.sub (local.get $o) (local.get $d))))
    (i32.const -2))

;; MAID: a UUID (8-4-4-4-12 hex, any case), lowercased; the all-zero ID is ZEROED.
  ;; Anything else is left to the string rules (-1): rare in real files. SIMD: bytes
  ;; [0, 16), [16, 32) and [32, 36) are each checked and lowercased in one pass.
  (func $maid (export "maid") (param $s i32) (param $e i32) (param $d i32) (result i32)
    (local $v v128) (local $lower v128) (local $alpha v128) (local $ok v128) (local $zero v128)
    (local $k i32)
    (if (i32.ne (i32.sub (local.get $e) (local.get $s)) (i32.const 36)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=8 (local.get $s)) (i32.const 45)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=13 (local.get $s)) (i32.const 45)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=18 (local.get $s)) (i32.const 45)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u offset=23 (local.get $s)) (i32.const 45)) (then (return (i32.const -1))))
    ;; Dashes: exactly the four above (16 + 16 + 4 bytes; lanes past 36 count as dashes).
    (local.set $zero (v128.const i8x16 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1))
    (local.set $k (i32.const 0))
    (loop $part
      (if (i32.lt_u (local.get $k) (i32.const 32))
        (then (local.set $v (v128.load (i32.add (local.get $s) (local.get $k)))))
        (else
          (local.set $v
            (v128.or (v128.load32_zero (i32.add (local.get $s) (i32.const 32)))
                     (v128.const i8x16 0 0 0 0 45 45 45 45 45 45 45 45 45 45 45 45)))))
      (local.set $lower (v128.or (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32)))
      ;; a-f after lowercasing (from a-f or A-F)
      (local.set $alpha (i8x16.lt_u (i8x16.sub (local.get $lower) (v128.const i8x16 97 97 97 97 97 97 97 97 97 97 97 97 97 97 97 97))
                                     (v128.const i8x16 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6 6)))
      (local.set $ok
        (v128.or (local.get $alpha)
          (v128.or (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                               (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))
                   (i8x16.eq (local.get $v) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45)))))
      (if (i32.eqz (i8x16.all_true (local.get $ok))) (then (return (i32.const -1))))
      (local.set $zero
        (v128.and (local.get $zero)
          (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                   (i8x16.eq (local.get $v) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45)))))
      (local.set $v (v128.bitselect (local.get $lower) (local.get $v) (local.get $alpha)))
      (if (i32.lt_u (local.get $k) (i32.const 32))
        (then (v128.store (i32.add (local.get $d) (local.get $k)) (local.get $v)))
        (else (v128.store32_lane 0 (i32.add (local.get $d) (i32.const 32)) (local.get $v))))
      ;; Dashes anywhere but the four places are wrong: count them in this part.
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br_if $part (i32.lt_u (local.get $k) (i32.const 48))))
    (if (i32.ne (call $dashes (local.get $s)) (i32.const 4)) (then (return (i32.const -1))))
    (if (i8x16.all_true (local.get $zero)) (then (return (i32.const -3))))
    (i32.const 36))

  ;; Dashes among the 36 bytes at $s.
  (func $dashes (param $s i32) (result i32)
    (i32.add
      (i32.add
        (i32.popcnt (i8x16.bitmask (i8x16.eq (v128.load (local.get $s)) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))))
        (i32.popcnt (i8x16.bitmask (i8x16.eq (v128.load offset=16 (local.get $s)) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45)))))
      (i32.popcnt (i8x16.bitmask (i8x16.eq (v128.load32_zero offset=32 (local.get $s)) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))))))

  ;; 1 when every byte of [$s, $e) is ASCII (the external ID rule only trims: no copy needed).
  (func $ascii (export "ascii") (param $s i32) (param $e i32) (result i32)
    ;; 16 bytes at a time (the last block masked to the value: bytes after it are readable).
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $s) (local.get $e)))
        (if (i32.and (i8x16.bitmask (v128.load (local.get $s)))
                     (select (i32.const 0xffff)
                             (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $e) (local.get $s))) (i32.const 1))
                             (i32.ge_u (i32.sub (local.get $e) (local.get $s)) (i32.const 16))))
          (then (return (i32.const 0))))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (br $next)))
    (i32.const 1))

;; CSV records of the staged input [$p, $n), for the snapshot reader's tokenizer: plain
  ;; records only (a LF before $n, no quote byte, at most 64 fields), stopping before any
  ;; other (the JavaScript tokenizer takes it) or when the output is full. Per record at
  ;; $out: u32 index after its LF, u32 field count (0 = blank line), then per field u32
  ;; start, end (a CR before the LF is not part of the last field) and mark (1 when it
  ;; holds ";", "|" or "[" other than the delimiter: maybe a multi-value cell). Returns the
  ;; number of records written.
  (func (export "scan") (param $p i32) (param $n i32) (param $delim i32) (param $out i32) (param $outEnd i32) (result i32)
    (local $recs i32) (local $i i32) (local $c i32) (local $fs i32) (local $cnt i32)
    (local $mark i32) (local $w i32) (local $end i32)
    (local $v v128) (local $d v128) (local $bits i32)
    (local.set $d (i8x16.splat (local.get $delim)))
    (block $stop
      (loop $record
        (br_if $stop (i32.ge_u (local.get $p) (local.get $n)))
        ;; Room for a record of 64 fields.
        (br_if $stop (i32.gt_u (i32.add (local.get $out) (i32.const 776)) (local.get $outEnd)))
        (local.set $i (local.get $p))
        (local.set $fs (local.get $p))
        (local.set $cnt (i32.const 0))
        (local.set $mark (i32.const 0))
        (local.set $w (i32.add (local.get $out) (i32.const 8)))
        (block $eol
          (loop $byte
            ;; 16 bytes at a time to the next byte that matters: LF, quote, delimiter, ; | [
            (if (i32.le_u (i32.add (local.get $i) (i32.const 16)) (local.get $n))
              (then
                (local.set $v (v128.load (local.get $i)))
                (local.set $bits
                  (i8x16.bitmask
                    (v128.or
                      (v128.or
                        (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))
                                 (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34)))
                        (v128.or (i8x16.eq (local.get $v) (local.get $d))
                                 (i8x16.eq (local.get $v) (v128.const i8x16 59 59 59 59 59 59 59 59 59 59 59 59 59 59 59 59))))
                      (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 124 124 124 124 124 124 124 124 124 124 124 124 124 124 124 124))
                               (i8x16.eq (local.get $v) (v128.const i8x16 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91))))))
                (if (i32.eqz (local.get $bits))
                  (then
                    (local.set $i (i32.add (local.get $i) (i32.const 16)))
                    (br $byte)))
                (local.set $i (i32.add (local.get $i) (i32.ctz (local.get $bits))))))
            (br_if $stop (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $c (i32.load8_u (local.get $i)))
            (br_if $eol (i32.eq (local.get $c) (i32.const 10)))
            (br_if $stop (i32.eq (local.get $c) (i32.const 34)))
            (if (i32.eq (local.get $c) (local.get $delim))
              (then
                (br_if $stop (i32.eq (local.get $cnt) (i32.const 63)))
                (i32.store (local.get $w) (local.get $fs))
                (i32.store offset=4 (local.get $w) (local.get $i))
                (i32.store offset=8 (local.get $w) (local.get $mark))
                (local.set $w (i32.add (local.get $w) (i32.const 12)))
                (local.set $cnt (i32.add (local.get $cnt) (i32.const 1)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (local.set $fs (local.get $i))
                (local.set $mark (i32.const 0))
                (br $byte)))
            (if (i32.or (i32.or (i32.eq (local.get $c) (i32.const 59)) (i32.eq (local.get $c) (i32.const 124))) (i32.eq (local.get $c) (i32.const 91)))
              (then (local.set $mark (i32.const 1))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $byte)))
        ;; The LF is at $i.
        (local.set $end (local.get $i))
        (if (i32.and (i32.gt_u (local.get $end) (local.get $fs)) (i32.eq (i32.load8_u (i32.sub (local.get $end) (i32.const 1))) (i32.const 13)))
          (then (local.set $end (i32.sub (local.get $end) (i32.const 1)))))
        (if (i32.and (i32.eqz (local.get $cnt)) (i32.eq (local.get $end) (local.get $p)))
          (then
            ;; A blank line: no record.
            (i32.store (local.get $out) (i32.add (local.get $i) (i32.const 1)))
            (i32.store offset=4 (local.get $out) (i32.const 0))
            (local.set $out (i32.add (local.get $out) (i32.const 8))))
          (else
            (i32.store (local.get $w) (local.get $fs))
            (i32.store offset=4 (local.get $w) (local.get $end))
            (i32.store offset=8 (local.get $w) (local.get $mark))
            (i32.store (local.get $out) (i32.add (local.get $i) (i32.const 1)))
            (i32.store offset=4 (local.get $out) (i32.add (local.get $cnt) (i32.const 1)))
            (local.set $out (i32.add (local.get $w) (i32.const 12)))))
        (local.set $recs (i32.add (local.get $recs) (i32.const 1)))
        (local.set $p (i32.add (local.get $i) (i32.const 1)))
        (br $record)))
    (local.get $recs))

;; The email rule for the common address: at most 64 bytes, none of them whitespace, a
  ;; control byte or non-ASCII (-9 otherwise: $email decides). 16 bytes at a time the value
  ;; is lowercased into $d and each byte class becomes a bit of a 64-bit mask (bit i = byte
  ;; i); the contract's checks are then a few mask operations. Writes whole 16-byte blocks:
  ;; $d needs 64 bytes of room. Same answers as $email (the tests compare both paths).
  (func $emailFast (param $s i32) (param $e i32) (param $d i32) (param $drop i32) (result i32)
    (local $len i32) (local $k i32) (local $v v128) (local $lv v128) (local $sh i64) (local $valid i32)
    (local $at64 i64) (local $plus64 i64) (local $dot64 i64) (local $hy64 i64) (local $dg64 i64) (local $ok64 i64)
    (local $at i32) (local $p i32) (local $local i32) (local $out i32)
    (local $dm i64) (local $dots i64) (local $ld i32)
    (local.set $len (i32.sub (local.get $e) (local.get $s)))
    (if (i32.gt_u (local.get $len) (i32.const 64)) (then (return (i32.const -9))))
    (loop $block
      (local.set $v (v128.load (i32.add (local.get $s) (local.get $k))))
      (local.set $valid (i32.const 0xffff))
      (if (i32.lt_u (i32.sub (local.get $len) (local.get $k)) (i32.const 16))
        (then (local.set $valid (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $len) (local.get $k))) (i32.const 1)))))
      ;; Bytes < 33 (signed: also >= 0x80): whitespace, controls, non-ASCII.
      (if (i32.and (local.get $valid)
            (i8x16.bitmask (i8x16.lt_s (local.get $v) (v128.const i8x16 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33 33))))
        (then (return (i32.const -9))))
      (local.set $lv
        (i8x16.add (local.get $v)
          (v128.and (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65 65))
                                (v128.const i8x16 26 26 26 26 26 26 26 26 26 26 26 26 26 26 26 26))
                    (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))))
      (v128.store (i32.add (local.get $d) (local.get $k)) (local.get $lv))
      (local.set $sh (i64.extend_i32_u (local.get $k)))
      (local.set $at64 (i64.or (local.get $at64) (i64.shl (i64.extend_i32_u (i32.and (local.get $valid)
        (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 64 64 64 64 64 64 64 64 64 64 64 64 64 64 64 64))))) (local.get $sh))))
      (local.set $plus64 (i64.or (local.get $plus64) (i64.shl (i64.extend_i32_u (i32.and (local.get $valid)
        (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43))))) (local.get $sh))))
      (local.set $dot64 (i64.or (local.get $dot64) (i64.shl (i64.extend_i32_u (i32.and (local.get $valid)
        (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 46 46 46 46 46 46 46 46 46 46 46 46 46 46 46 46))))) (local.get $sh))))
      (local.set $hy64 (i64.or (local.get $hy64) (i64.shl (i64.extend_i32_u (i32.and (local.get $valid)
        (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))))) (local.get $sh))))
      (local.set $dg64 (i64.or (local.get $dg64) (i64.shl (i64.extend_i32_u (i32.and (local.get $valid)
        (i8x16.bitmask (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                                   (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))) (local.get $sh))))
      ;; What a domain may hold: a-z (after lowercasing), 0-9, ".", "-".
      (local.set $ok64 (i64.or (local.get $ok64) (i64.shl (i64.extend_i32_u (i32.and (local.get $valid)
        (i8x16.bitmask
          (v128.or
            (i8x16.lt_u (i8x16.sub (local.get $lv) (v128.const i8x16 97 97 97 97 97 97 97 97 97 97 97 97 97 97 97 97))
                        (v128.const i8x16 26 26 26 26 26 26 26 26 26 26 26 26 26 26 26 26))
            (v128.or
              (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))
                          (v128.const i8x16 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2))
              (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                          (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))))) (local.get $sh))))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br_if $block (i32.lt_u (local.get $k) (local.get $len))))
    (if (i64.ne (i64.popcnt (local.get $at64)) (i64.const 1)) (then (return (i32.const -2))))
    (local.set $at (i32.wrap_i64 (i64.ctz (local.get $at64))))
    (local.set $local (local.get $at))
    (local.set $out (local.get $len))
    ;; The first "+" before the "@".
    (local.set $plus64 (i64.and (local.get $plus64) (i64.sub (i64.shl (i64.const 1) (i64.extend_i32_u (local.get $at))) (i64.const 1))))
    (if (i32.and (i32.ne (local.get $drop) (i32.const 0)) (i64.ne (local.get $plus64) (i64.const 0)))
      (then
        (local.set $p (i32.wrap_i64 (i64.ctz (local.get $plus64))))
        ;; "@domain" moved down over "+suffix", 16 bytes at a time upwards (destination below
        ;; the source: each block is read before anything overwrites it).
        (local.set $k (local.get $at))
        (loop $move
          (v128.store (i32.add (local.get $d) (i32.add (local.get $p) (i32.sub (local.get $k) (local.get $at))))
                      (v128.load (i32.add (local.get $d) (local.get $k))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $move (i32.lt_u (local.get $k) (local.get $len))))
        (local.set $local (local.get $p))
        (local.set $out (i32.sub (local.get $len) (i32.sub (local.get $at) (local.get $p))))))
    (if (i32.or (i32.lt_s (local.get $local) (i32.const 1)) (i32.gt_s (local.get $local) (i32.const 64))) (then (return (i32.const -2))))
    ;; The domain: bytes (at, len) of the input.
    (local.set $dm (i64.xor
      (select (i64.const -1) (i64.sub (i64.shl (i64.const 1) (i64.extend_i32_u (local.get $len))) (i64.const 1)) (i32.eq (local.get $len) (i32.const 64)))
      (i64.sub (i64.shl (i64.const 2) (i64.extend_i32_u (local.get $at))) (i64.const 1))))
    (if (i64.ne (i64.and (local.get $dm) (i64.xor (local.get $ok64) (i64.const -1))) (i64.const 0)) (then (return (i32.const -2))))
    (local.set $dots (i64.and (local.get $dot64) (local.get $dm)))
    (if (i64.eqz (local.get $dots)) (then (return (i32.const -2))))
    ;; An empty label: a dot first, or two dots in a row.
    (if (i64.ne (i64.and (local.get $dots)
                         (i64.or (i64.shl (i64.const 2) (i64.extend_i32_u (local.get $at))) (i64.shr_u (local.get $dots) (i64.const 1))))
                (i64.const 0))
      (then (return (i32.const -2))))
    ;; A "-" first or last in a label.
    (if (i64.ne (i64.and (i64.and (local.get $hy64) (local.get $dm))
                         (i64.or (i64.or (i64.shl (i64.const 2) (i64.extend_i32_u (local.get $at))) (i64.shl (local.get $dots) (i64.const 1)))
                                 (i64.shr_u (local.get $dots) (i64.const 1))))
                (i64.const 0))
      (then (return (i32.const -2))))
    ;; The final label: at least two letters.
    (local.set $ld (i32.wrap_i64 (i64.sub (i64.const 63) (i64.clz (local.get $dots)))))
    (if (i32.lt_s (i32.sub (i32.sub (local.get $len) (local.get $ld)) (i32.const 1)) (i32.const 2)) (then (return (i32.const -2))))
    (if (i64.ne (i64.and (i64.or (local.get $dg64) (local.get $hy64))
                         (i64.and (local.get $dm) (i64.xor (i64.sub (i64.shl (i64.const 2) (i64.extend_i32_u (local.get $ld))) (i64.const 1)) (i64.const -1))))
                (i64.const 0))
      (then (return (i32.const -2))))
    (local.get $out))

  ;; ---------------------------------------------------------------------------------
  ;; Batches: the rules for many values in one call (a call from JavaScript into
  ;; WebAssembly costs more than an email rule on a short address). Each value gets a code
  ;; in codes[m] (i32): >= 0 its descriptor index (desc[k] = address, length of the
  ;; normalized bytes, ready for sha256_hex), or -1 SLOW (the JavaScript path decides,
  ;; which includes prehashed values and values over 1 KiB), -2 INVALID, -3 ZEROED,
  ;; -4 EMPTY (only whitespace), -5 NONE (the record has no such field).
  ;; Normalized bytes are written one after another from $o (never over the input: full
  ;; 16-byte stores may spill into the next value's place); an external ID's descriptor
  ;; points at its input bytes. outPos is where the next value would go.
  (global $outPos (export "outPos") (mut i32) (i32.const 0))
  (global $normAt (mut i32) (i32.const 0))

  ;; One value [$s, $e): kind 0 email, 1 MAID, 2 external ID, 3 phone. flags bit 0 drops an
  ;; email "+suffix", bit 1 keeps a phone's "+". $country: the phone country record
  ;; (see phone), -1 none (national numbers are INVALID) or 0 (SLOW). Sets $normAt.
  (func $one (param $kind i32) (param $s i32) (param $e i32) (param $o i32) (param $flags i32) (param $country i32) (result i32)
    (local $len i32) (local $i i32) (local $c i32)
    (if (i32.gt_u (i32.sub (local.get $e) (local.get $s)) (i32.const 1024)) (then (return (i32.const -1))))
    (block $t
      (loop $l
        (br_if $t (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $s)))
        (br_if $t (i32.eqz (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.lt_u (i32.sub (local.get $c) (i32.const 9)) (i32.const 5)))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $l)))
    (block $t
      (loop $l
        (br_if $t (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $c (i32.load8_u (i32.sub (local.get $e) (i32.const 1))))
        (br_if $t (i32.eqz (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.lt_u (i32.sub (local.get $c) (i32.const 9)) (i32.const 5)))))
        (local.set $e (i32.sub (local.get $e) (i32.const 1)))
        (br $l)))
    (local.set $len (i32.sub (local.get $e) (local.get $s)))
    (if (i32.eqz (local.get $len)) (then (return (i32.const -4))))
    (if (i32.or (i32.eq (local.get $len) (i32.const 32)) (i32.eq (local.get $len) (i32.const 64)))
      (then
        ;; All hex: a digest (the JavaScript path passes it through or rejects its kind).
        (local.set $i (local.get $s))
        (block $nothex
          (loop $h
            (if (i32.ge_u (local.get $i) (local.get $e)) (then (return (i32.const -1))))
            (br_if $nothex (i32.eqz (i32.load8_u offset=2304 (i32.load8_u (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $h)))))
    (global.set $normAt (local.get $o))
    (if (i32.eqz (local.get $kind))
      (then
        (local.set $i (call $emailFast (local.get $s) (local.get $e) (local.get $o) (i32.and (local.get $flags) (i32.const 1))))
        (if (i32.ne (local.get $i) (i32.const -9)) (then (return (local.get $i))))
        (return (call $email (local.get $s) (local.get $e) (local.get $o) (i32.and (local.get $flags) (i32.const 1))))))
    (if (i32.eq (local.get $kind) (i32.const 1))
      (then (return (call $maid (local.get $s) (local.get $e) (local.get $o)))))
    (if (i32.eq (local.get $kind) (i32.const 2))
      (then
        (if (i32.eqz (call $ascii (local.get $s) (local.get $e))) (then (return (i32.const -1))))
        (global.set $normAt (local.get $s))
        (return (local.get $len))))
    (local.set $i (call $phoneFast (local.get $s) (local.get $e) (local.get $o) (i32.and (local.get $flags) (i32.const 2)) (local.get $country)))
    (if (i32.ne (local.get $i) (i32.const -9)) (then (return (local.get $i))))
    (call $phone (local.get $s) (local.get $e) (local.get $o) (i32.and (local.get $flags) (i32.const 2)) (local.get $country)))

  ;; $n values lying one after another from $in, their lengths the u32s at $lens.
  ;; Descriptors from desc[$nd] (at most $ndMax); returns the descriptor count.
  (func (export "batch") (param $kind i32) (param $in i32) (param $lens i32) (param $n i32) (param $codes i32)
        (param $desc i32) (param $nd i32) (param $ndMax i32) (param $o i32) (param $oEnd i32) (param $flags i32) (param $country i32) (result i32)
    (local $m i32) (local $len i32) (local $r i32)
    (global.set $outPos (local.get $o))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $m) (local.get $n)))
        (local.set $len (i32.load (i32.add (local.get $lens) (i32.shl (local.get $m) (i32.const 2)))))
        (local.set $r (i32.const -1))
        ;; Room for the longest output (a value of at most 1 KiB, or a phone of 16 digits + "+").
        (if (i32.and (i32.lt_u (local.get $nd) (local.get $ndMax))
                     (i32.le_u (i32.add (global.get $outPos) (i32.const 1088)) (local.get $oEnd)))
          (then
            (local.set $r (call $one (local.get $kind) (local.get $in) (i32.add (local.get $in) (local.get $len))
                                     (global.get $outPos) (local.get $flags) (local.get $country)))))
        (if (i32.lt_s (local.get $r) (i32.const 0))
          (then (i32.store (i32.add (local.get $codes) (i32.shl (local.get $m) (i32.const 2))) (local.get $r)))
          (else
            ;; Hashed: its descriptor. (Written out in both loops: V8 does not inline calls.)
            (i32.store (i32.add (local.get $codes) (i32.shl (local.get $m) (i32.const 2))) (local.get $nd))
            (i32.store (i32.add (local.get $desc) (i32.shl (local.get $nd) (i32.const 3))) (global.get $normAt))
            (i32.store offset=4 (i32.add (local.get $desc) (i32.shl (local.get $nd) (i32.const 3))) (local.get $r))
            (if (i32.eq (global.get $normAt) (global.get $outPos))
              (then (global.set $outPos (i32.add (global.get $outPos) (local.get $r)))))
            (local.set $nd (i32.add (local.get $nd) (i32.const 1)))))
        (local.set $in (i32.add (local.get $in) (local.get $len)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $next)))
    (local.get $nd))

  ;; Field $col of the $found records that `scan` wrote at $rec (a field with a multi-value
  ;; mark is SLOW: the JavaScript path splits it). codes[r] per record index r.
  (func (export "batchScan") (param $kind i32) (param $rec i32) (param $found i32) (param $col i32) (param $codes i32)
        (param $desc i32) (param $nd i32) (param $ndMax i32) (param $o i32) (param $oEnd i32) (param $flags i32) (param $country i32) (result i32)
    (local $m i32) (local $cnt i32) (local $f i32) (local $r i32)
    (global.set $outPos (local.get $o))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $m) (local.get $found)))
        (local.set $cnt (i32.load offset=4 (local.get $rec)))
        (local.set $r (i32.const -5))
        (if (i32.lt_u (local.get $col) (local.get $cnt))
          (then
            (local.set $f (i32.add (i32.add (local.get $rec) (i32.const 8)) (i32.mul (local.get $col) (i32.const 12))))
            (local.set $r (i32.const -1))
            (if (i32.and (i32.eqz (i32.load offset=8 (local.get $f)))
                  (i32.and (i32.lt_u (local.get $nd) (local.get $ndMax))
                           (i32.le_u (i32.add (global.get $outPos) (i32.const 1088)) (local.get $oEnd))))
              (then
                (local.set $r (call $one (local.get $kind) (i32.load (local.get $f)) (i32.load offset=4 (local.get $f))
                                         (global.get $outPos) (local.get $flags) (local.get $country)))))))
        (if (i32.lt_s (local.get $r) (i32.const 0))
          (then (i32.store (i32.add (local.get $codes) (i32.shl (local.get $m) (i32.const 2))) (local.get $r)))
          (else
            ;; Hashed: its descriptor. (Written out in both loops: V8 does not inline calls.)
            (i32.store (i32.add (local.get $codes) (i32.shl (local.get $m) (i32.const 2))) (local.get $nd))
            (i32.store (i32.add (local.get $desc) (i32.shl (local.get $nd) (i32.const 3))) (global.get $normAt))
            (i32.store offset=4 (i32.add (local.get $desc) (i32.shl (local.get $nd) (i32.const 3))) (local.get $r))
            (if (i32.eq (global.get $normAt) (global.get $outPos))
              (then (global.set $outPos (i32.add (global.get $outPos) (local.get $r)))))
            (local.set $nd (i32.add (local.get $nd) (i32.const 1)))))
        (local.set $rec (i32.add (local.get $rec) (i32.add (i32.const 8) (i32.mul (local.get $cnt) (i32.const 12)))))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $next)))
    (local.get $nd))

  ;; ---------------------------------------------------------------------------------
  ;; Phone: fastE164Ascii of phoneFast.ts, on tables phoneTables.ts writes from
  ;; libphonenumber-js's metadata at start-up (so they are the installed library's):
  ;;   at the address in [2560]: byDigits, 1110 u32 (codes of 1, 2, 3 digits by value, at
  ;;     index 0, 10, 110): 0 no code, 1 non-geographic (SLOW), else a code record;
  ;;   code record: u32 has lengths, u32 national prefix test, 18 bytes: per national
  ;;     length 0 possible nowhere, 1 everywhere, 2 in some countries;
  ;;   country record: u32 code record, u32 IDD test, u32 national prefix test, u32
  ;;     calling-code length, its digits;
  ;;   prefix test: 0 none, 1 not expressible here (SLOW), else u32 alternatives, then per
  ;;     alternative u32 length and that many u16 digit masks.
  ;; Same answers as fastE164Ascii wherever it answers here; SLOW sends the value there.
  (func $bracket (param $c i32) (result i32)
    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 40)) (i32.eq (local.get $c) (i32.const 41)))
            (i32.or (i32.eq (local.get $c) (i32.const 91)) (i32.eq (local.get $c) (i32.const 93)))))

  ;; Digits of [$i, $e) written at $o; their count, or -1 for a byte other than a digit,
  ;; " ", "-", "." or a bracket, or more than 17 digits.
  (func $digits (param $i i32) (param $e i32) (param $o i32) (result i32)
    (local $n i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10))
          (then
            (if (i32.eq (local.get $n) (i32.const 17)) (then (return (i32.const -1))))
            (i32.store8 (i32.add (local.get $o) (local.get $n)) (local.get $c))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $next)))
        (br_if $next (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 45)))
                             (i32.or (i32.eq (local.get $c) (i32.const 46)) (call $bracket (local.get $c)))))
        (return (i32.const -1))))
    (local.get $n))

  ;; Prefix test $t on the digits [$s, $e): 1 matches, 0 does not, -1 not decidable here.
  (func $prefix (param $t i32) (param $s i32) (param $e i32) (result i32)
    (local $alts i32) (local $len i32) (local $k i32)
    (if (i32.eqz (local.get $t)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $t) (i32.const 1)) (then (return (i32.const -1))))
    (local.set $alts (i32.load (local.get $t)))
    (local.set $t (i32.add (local.get $t) (i32.const 4)))
    (block $none
      (loop $alt
        (br_if $none (i32.eqz (local.get $alts)))
        (local.set $alts (i32.sub (local.get $alts) (i32.const 1)))
        (local.set $len (i32.load (local.get $t)))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (if (i32.le_u (local.get $len) (i32.sub (local.get $e) (local.get $s)))
          (then
            (local.set $k (i32.const 0))
            (block $miss
              (loop $pos
                (if (i32.ge_u (local.get $k) (local.get $len)) (then (return (i32.const 1))))
                (br_if $miss (i32.eqz (i32.and (i32.const 1)
                  (i32.shr_u (i32.load16_u (i32.add (local.get $t) (i32.shl (local.get $k) (i32.const 1))))
                             (i32.sub (i32.load8_u (i32.add (local.get $s) (local.get $k))) (i32.const 48))))))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $pos)))))
        (local.set $t (i32.add (local.get $t) (i32.shl (local.get $len) (i32.const 1))))
        (br $alt)))
    (i32.const 0))

  ;; The phone rule for a value of at most 16 bytes of digits, " ", "-", ".", brackets and
  ;; at most a leading "+" (-9 otherwise: $phone decides): the byte classes are found 16
  ;; at a time, and the digits gathered with one shuffle per 8 bytes (indices from the
  ;; table whose address is at [2564]: per 8-bit mask, the positions of its set bits; each
  ;; gathering writes 16 bytes from $o).
  ;; Same steps and answers as $phone.
  (func $phoneFast (param $s i32) (param $e i32) (param $d i32) (param $plus i32) (param $country i32) (result i32)
    (local $len i32) (local $v v128) (local $valid i32) (local $dg i32) (local $sp i32) (local $br i32) (local $pl i32)
    (local $nb i32) (local $t i32) (local $firstAt i32) (local $first i32) (local $m i32) (local $second i32)
    (local $lead i32) (local $cnt i32) (local $from i32) (local $o i32) (local $f i32) (local $tab i32) (local $lo i32)
    (local.set $len (i32.sub (local.get $e) (local.get $s)))
    (if (i32.gt_u (local.get $len) (i32.const 16)) (then (return (i32.const -9))))
    (local.set $v (v128.load (local.get $s)))
    (local.set $valid (i32.sub (i32.shl (i32.const 1) (local.get $len)) (i32.const 1)))
    (local.set $dg (i32.and (local.get $valid) (i8x16.bitmask
      (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                  (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))))
    (local.set $sp (i32.and (local.get $valid) (i8x16.bitmask
      (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
               (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))
                           (v128.const i8x16 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2))))))
    (local.set $br (i32.and (local.get $valid) (i8x16.bitmask
      (v128.or (i8x16.lt_u (i8x16.sub (local.get $v) (v128.const i8x16 40 40 40 40 40 40 40 40 40 40 40 40 40 40 40 40))
                           (v128.const i8x16 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2))
               (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91))
                        (i8x16.eq (local.get $v) (v128.const i8x16 93 93 93 93 93 93 93 93 93 93 93 93 93 93 93 93)))))))
    (local.set $pl (i32.and (local.get $valid) (i8x16.bitmask
      (i8x16.eq (local.get $v) (v128.const i8x16 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43)))))
    (if (i32.ne (i32.or (i32.or (local.get $dg) (local.get $sp)) (i32.or (local.get $br) (local.get $pl))) (local.get $valid))
      (then (return (i32.const -9))))
    ;; Not brackets; the first of them that is not a (leading) separator.
    (local.set $nb (i32.and (local.get $valid) (i32.xor (local.get $br) (i32.const -1))))
    (local.set $t (i32.and (local.get $nb) (i32.xor (local.get $sp) (i32.const -1))))
    (if (i32.eqz (local.get $t)) (then (return (i32.const -9))))
    (local.set $firstAt (i32.ctz (local.get $t)))
    (local.set $first (i32.load8_u (i32.add (local.get $s) (local.get $firstAt))))
    (if (i32.and (local.get $pl) (i32.xor (i32.shl (i32.const 1) (local.get $firstAt)) (i32.const -1))) (then (return (i32.const -9))))
    (local.set $lead (i32.popcnt (i32.and (local.get $nb) (i32.sub (i32.shl (i32.const 1) (local.get $firstAt)) (i32.const 1)))))
    (local.set $cnt (i32.popcnt (local.get $nb)))
    (local.set $m (i32.and (local.get $nb) (i32.xor (i32.sub (i32.shl (i32.const 2) (local.get $firstAt)) (i32.const 1)) (i32.const -1))))
    (local.set $second (i32.const -1))
    (if (local.get $m) (then (local.set $second (i32.load8_u (i32.add (local.get $s) (i32.ctz (local.get $m)))))))
    (local.set $o (local.get $d))
    (if (local.get $plus) (then (local.set $o (i32.add (local.get $d) (i32.const 1)))))
    (block $national
      (if (i32.eq (local.get $first) (i32.const 43))
        (then
          (if (i32.or (i32.ne (local.get $lead) (i32.const 0))
                      (i32.or (i32.lt_s (local.get $cnt) (i32.const 4)) (i32.gt_s (local.get $cnt) (i32.const 40))))
            (then (return (i32.const -1))))
          (local.set $from (i32.add (local.get $firstAt) (i32.const 1))))
        (else
          (br_if $national (i32.or (i32.ne (local.get $first) (i32.const 48)) (i32.ne (local.get $second) (i32.const 48))))
          (local.set $t (i32.sub (i32.sub (local.get $cnt) (local.get $lead)) (i32.const 1)))
          (if (i32.or (i32.lt_s (local.get $t) (i32.const 4)) (i32.gt_s (local.get $t) (i32.const 40)))
            (then (return (i32.const -1))))
          (local.set $from (i32.add (i32.ctz (local.get $m)) (i32.const 1)))))
      ;; The digits after $from gathered at $o (the gathering, written out: calls are not inlined).
      (local.set $f (i32.and (local.get $dg) (i32.xor (i32.sub (i32.shl (i32.const 1) (local.get $from)) (i32.const 1)) (i32.const -1))))
      (local.set $tab (i32.load (i32.const 2564)))
      (local.set $lo (i32.and (local.get $f) (i32.const 255)))
      (v128.store64_lane 0 (local.get $o)
        (i8x16.swizzle (local.get $v) (v128.load64_zero (i32.add (local.get $tab) (i32.shl (local.get $lo) (i32.const 3))))))
      (v128.store64_lane 0 (i32.add (local.get $o) (i32.popcnt (local.get $lo)))
        (i8x16.swizzle (local.get $v)
          (i8x16.add (v128.load64_zero (i32.add (local.get $tab) (i32.shl (i32.shr_u (local.get $f) (i32.const 8)) (i32.const 3))))
                     (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8))))
      (return (call $intlTail (local.get $o) (i32.popcnt (local.get $f)) (local.get $d) (local.get $plus))))
    (if (i32.eq (local.get $country) (i32.const -1)) (then (return (i32.const -2))))
    (if (i32.eqz (local.get $country)) (then (return (i32.const -1))))
    (if (i32.or (i32.or (i32.lt_s (local.get $cnt) (i32.const 4)) (i32.gt_s (local.get $cnt) (i32.const 40)))
                (i32.eqz (i32.load (i32.load (local.get $country)))))
      (then (return (i32.const -1))))
    (local.set $o (i32.add (local.get $o) (i32.load offset=12 (local.get $country))))
    (local.set $f (local.get $dg))
    (local.set $tab (i32.load (i32.const 2564)))
    (local.set $lo (i32.and (local.get $f) (i32.const 255)))
    (v128.store64_lane 0 (local.get $o)
      (i8x16.swizzle (local.get $v) (v128.load64_zero (i32.add (local.get $tab) (i32.shl (local.get $lo) (i32.const 3))))))
    (v128.store64_lane 0 (i32.add (local.get $o) (i32.popcnt (local.get $lo)))
      (i8x16.swizzle (local.get $v)
        (i8x16.add (v128.load64_zero (i32.add (local.get $tab) (i32.shl (i32.shr_u (local.get $f) (i32.const 8)) (i32.const 3))))
                   (v128.const i8x16 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8 8))))
    (call $natTail (local.get $o) (i32.popcnt (local.get $f)) (local.get $d) (local.get $plus) (local.get $country)))

  (func $phone (param $s i32) (param $e i32) (param $d i32) (param $plus i32) (param $country i32) (result i32)
    (local $len i32) (local $lead i32) (local $first i32) (local $second i32) (local $firstAt i32)
    (local $i i32) (local $c i32) (local $from i32) (local $o i32) (local $n i32) (local $num i32)
    (local $k i32) (local $code i32) (local $national i32) (local $v i32) (local $p i32) (local $cc i32) (local $ccLen i32)
    (local.set $first (i32.const -1))
    (local.set $second (i32.const -1))
    (local.set $firstAt (local.get $s))
    (local.set $i (local.get $s))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.ge_u (local.get $c) (i32.const 128)) (then (return (i32.const -1))))
        (if (i32.eqz (call $bracket (local.get $c)))
          (then
            (if (i32.lt_s (local.get $first) (i32.const 0))
              (then
                ;; LEADING_FORMAT: ASCII whitespace, "-", ".", "/", "~"
                (if (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.lt_u (i32.sub (local.get $c) (i32.const 9)) (i32.const 5)))
                            (i32.or (i32.lt_u (i32.sub (local.get $c) (i32.const 45)) (i32.const 3)) (i32.eq (local.get $c) (i32.const 126))))
                  (then (local.set $lead (i32.add (local.get $lead) (i32.const 1))))
                  (else
                    (local.set $first (local.get $c))
                    (local.set $firstAt (local.get $i)))))
              (else
                (if (i32.lt_s (local.get $second) (i32.const 0)) (then (local.set $second (local.get $c))))))
            (local.set $len (i32.add (local.get $len) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (if (i32.or (i32.eq (local.get $first) (i32.const 43))
                (i32.and (i32.eq (local.get $first) (i32.const 48)) (i32.eq (local.get $second) (i32.const 48))))
      (then
        (if (i32.eq (local.get $first) (i32.const 43))
          (then
            (if (i32.or (i32.ne (local.get $lead) (i32.const 0))
                        (i32.or (i32.lt_s (local.get $len) (i32.const 4)) (i32.gt_s (local.get $len) (i32.const 40))))
              (then (return (i32.const -1))))
            (local.set $from (i32.add (local.get $firstAt) (i32.const 1))))
          (else
            (local.set $n (i32.sub (i32.sub (local.get $len) (local.get $lead)) (i32.const 1)))
            (if (i32.or (i32.lt_s (local.get $n) (i32.const 4)) (i32.gt_s (local.get $n) (i32.const 40)))
              (then (return (i32.const -1))))
            (local.set $from (i32.add (local.get $firstAt) (i32.const 1)))
            (block $b
              (loop $l
                (br_if $b (i32.eqz (call $bracket (i32.load8_u (local.get $from)))))
                (local.set $from (i32.add (local.get $from) (i32.const 1)))
                (br $l)))
            (local.set $from (i32.add (local.get $from) (i32.const 1)))))
        (local.set $o (local.get $d))
        (if (local.get $plus) (then (local.set $o (i32.add (local.get $d) (i32.const 1)))))
        (return (call $intlTail (local.get $o) (call $digits (local.get $from) (local.get $e) (local.get $o)) (local.get $d) (local.get $plus)))))
    (if (i32.eq (local.get $country) (i32.const -1)) (then (return (i32.const -2))))
    (if (i32.eqz (local.get $country)) (then (return (i32.const -1))))
    (local.set $code (i32.load (local.get $country)))
    (if (i32.or (i32.or (i32.lt_s (local.get $len) (i32.const 4)) (i32.gt_s (local.get $len) (i32.const 40)))
                (i32.eqz (i32.load (local.get $code))))
      (then (return (i32.const -1))))
    (local.set $ccLen (i32.load offset=12 (local.get $country)))
    (local.set $cc (i32.add (local.get $country) (i32.const 16)))
    (local.set $o (i32.add (local.get $d) (local.get $ccLen)))
    (if (local.get $plus) (then (local.set $o (i32.add (local.get $o) (i32.const 1)))))
    (call $natTail (local.get $o) (call $digits (local.get $s) (local.get $e) (local.get $o)) (local.get $d) (local.get $plus) (local.get $country)))

  ;; International: the digits after "+" (or "00") are at $o, $n of them (-1: not plain).
  (func $intlTail (param $o i32) (param $n i32) (param $d i32) (param $plus i32) (result i32)
    (local $k i32) (local $num i32) (local $p i32) (local $code i32) (local $national i32) (local $v i32)
    (if (i32.or (i32.or (i32.lt_s (local.get $n) (i32.const 4)) (i32.gt_s (local.get $n) (i32.const 17)))
                (i32.eq (i32.load8_u (local.get $o)) (i32.const 48)))
      (then (return (i32.const -1))))
        (local.set $k (i32.const 1))
        (local.set $p (i32.load (i32.const 2560)))
        (loop $kk
          (local.set $num (i32.sub (i32.add (i32.mul (local.get $num) (i32.const 10)) (i32.load8_u (i32.add (local.get $o) (i32.sub (local.get $k) (i32.const 1))))) (i32.const 48)))
          ;; byDigits index: k = 1 at 0, k = 2 at 10, k = 3 at 110.
          (local.set $code (i32.load (i32.add (local.get $p)
            (i32.shl (i32.add (local.get $num)
              (select (i32.const 0) (select (i32.const 10) (i32.const 110) (i32.eq (local.get $k) (i32.const 2))) (i32.eq (local.get $k) (i32.const 1))))
              (i32.const 2)))))
          (if (i32.eq (local.get $code) (i32.const 1)) (then (return (i32.const -1))))
          (if (local.get $code)
            (then
              (local.set $national (i32.sub (local.get $n) (local.get $k)))
              (if (i32.or (i32.eqz (i32.load (local.get $code))) (i32.lt_s (local.get $national) (i32.const 2)))
                (then (return (i32.const -1))))
              (local.set $v (call $prefix (i32.load offset=4 (local.get $code)) (i32.add (local.get $o) (local.get $k)) (i32.add (local.get $o) (local.get $n))))
              (if (local.get $v) (then (return (i32.const -1))))
              (local.set $v (i32.load8_u offset=8 (i32.add (local.get $code) (local.get $national))))
              (if (i32.ne (local.get $v) (i32.const 1))
                (then (return (select (i32.const -2) (i32.const -1) (i32.eqz (local.get $v))))))
              (if (i32.gt_s (local.get $n) (i32.const 15)) (then (return (i32.const -2))))
              (if (local.get $plus) (then (i32.store8 (local.get $d) (i32.const 43))))
              (return (i32.sub (i32.add (local.get $o) (local.get $n)) (local.get $d)))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $kk (i32.le_u (local.get $k) (i32.const 3))))
    (i32.const -1))

  ;; National: the digits are at $o (after room for "+" and the calling code), $n of them.
  (func $natTail (param $o i32) (param $n i32) (param $d i32) (param $plus i32) (param $country i32) (result i32)
    (local $k i32) (local $v i32) (local $code i32) (local $cc i32) (local $ccLen i32)
    (if (i32.or (i32.lt_s (local.get $n) (i32.const 4)) (i32.gt_s (local.get $n) (i32.const 17))) (then (return (i32.const -1))))
    (local.set $code (i32.load (local.get $country)))
    (local.set $ccLen (i32.load offset=12 (local.get $country)))
    (local.set $cc (i32.add (local.get $country) (i32.const 16)))
    ;; The IDD prefix, the calling code or a national prefix at the start: the library may
    ;; read it otherwise.
    (if (call $prefix (i32.load offset=4 (local.get $country)) (local.get $o) (i32.add (local.get $o) (local.get $n))) (then (return (i32.const -1))))
    (if (i32.ge_u (local.get $n) (local.get $ccLen))
      (then
        (local.set $k (i32.const 0))
        (block $differ
          (loop $l
            (if (i32.ge_u (local.get $k) (local.get $ccLen)) (then (return (i32.const -1))))
            (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $o) (local.get $k))) (i32.load8_u (i32.add (local.get $cc) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $l)))))
    (if (call $prefix (i32.load offset=8 (local.get $country)) (local.get $o) (i32.add (local.get $o) (local.get $n))) (then (return (i32.const -1))))
    (local.set $v (i32.load8_u offset=8 (i32.add (local.get $code) (local.get $n))))
    (if (i32.ne (local.get $v) (i32.const 1))
      (then (return (select (i32.const -2) (i32.const -1) (i32.eqz (local.get $v))))))
    (if (i32.gt_s (i32.add (local.get $n) (local.get $ccLen)) (i32.const 15)) (then (return (i32.const -2))))
    (if (local.get $plus) (then (i32.store8 (local.get $d) (i32.const 43))))
    (local.set $k (i32.const 0))
    (loop $l
      (i32.store8 (i32.sub (i32.add (local.get $o) (local.get $k)) (local.get $ccLen)) (i32.load8_u (i32.add (local.get $cc) (local.get $k))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (local.get $ccLen))))
    (i32.sub (i32.add (local.get $o) (local.get $n)) (local.get $d)))


  ;; ---------------------------------------------------------------------------------
  ;; JSON lines of `ttsync ids normalize` (src/cli/commands/ids.ts), after `batch` on lines:
  ;; value m of the batch is line m and its "\n" (one "\r" before it is not part of the line).
  ;; From line $m on, each line whose code is a descriptor (>= 0) and whose bytes are
  ;; printable ASCII without `"` or `\` (so they are their own JSON string) is written from $o:
  ;;   {"input":"<line>","normalized":"<normalized>","hash":"<digest>","prehashed":false,"error":null}\n
  ;; The normalized value needs no check: the rules only keep, drop or lowercase the bytes of
  ;; such a line (or write digits). Stops at the first other line (jsonWhy 1: JavaScript
  ;; writes it), when a line's worst case no longer fits before $oEnd (jsonWhy 2), or after
  ;; line $n - 1 (jsonWhy 0); returns the line it stopped at. jsonPos is where the output
  ;; ends, jsonIn where that line's value starts. Whole-vector stores may write up to 16
  ;; bytes past a line; the next line writes over them (the room check keeps them before $oEnd).
  (global $jsonPos (export "jsonPos") (mut i32) (i32.const 0))
  (global $jsonIn (export "jsonIn") (mut i32) (i32.const 0))
  (global $jsonWhy (export "jsonWhy") (mut i32) (i32.const 0))
  (func (export "jsonLines") (param $in i32) (param $lens i32) (param $m i32) (param $n i32) (param $codes i32)
        (param $desc i32) (param $hex i32) (param $o i32) (param $oEnd i32) (result i32)
    (local $len i32) (local $e i32) (local $code i32) (local $i i32) (local $p i32) (local $c i32)
    (local $na i32) (local $nl i32) (local $v v128)
    (global.set $jsonWhy (i32.const 0))
    (block $stop
      (loop $line
        (br_if $stop (i32.ge_u (local.get $m) (local.get $n)))
        (local.set $len (i32.load (i32.add (local.get $lens) (i32.shl (local.get $m) (i32.const 2)))))
        (local.set $e (i32.add (local.get $in) (i32.sub (local.get $len) (i32.const 1))))
        (if (i32.gt_u (local.get $e) (local.get $in))
          (then
            (if (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 13))
              (then (local.set $e (i32.sub (local.get $e) (i32.const 1)))))))
        (local.set $code (i32.load (i32.add (local.get $codes) (i32.shl (local.get $m) (i32.const 2)))))
        (if (i32.lt_s (local.get $code) (i32.const 0))
          (then (global.set $jsonWhy (i32.const 1)) (br $stop)))
        (local.set $na (i32.load (i32.add (local.get $desc) (i32.shl (local.get $code) (i32.const 3)))))
        (local.set $nl (i32.load offset=4 (i32.add (local.get $desc) (i32.shl (local.get $code) (i32.const 3)))))
        ;; The constant parts (70), the digest (64), the line, the normalized value, and 32 of slack.
        (if (i32.gt_u (i32.add (i32.add (local.get $o) (i32.const 176)) (i32.add (i32.sub (local.get $e) (local.get $in)) (local.get $nl)))
                      (local.get $oEnd))
          (then (global.set $jsonWhy (i32.const 2)) (br $stop)))
        ;; {"input":"
        (v128.store (local.get $o) (v128.load (i32.const 2816)))
        (local.set $p (i32.add (local.get $o) (i32.const 10)))
        (local.set $i (local.get $in))
        (block $tail
          (loop $vec
            (br_if $tail (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $e)))
            (local.set $v (v128.load (local.get $i)))
            (if (v128.any_true
                  (v128.or
                    (v128.or (i8x16.lt_u (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32)) (i8x16.gt_u (local.get $v) (v128.const i8x16 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127 127)))
                    (v128.or (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34)) (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92)))))
              (then (global.set $jsonWhy (i32.const 1)) (br $stop)))
            (v128.store (local.get $p) (local.get $v))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $vec)))
        (block $done
          (loop $byte
            (br_if $done (i32.ge_u (local.get $i) (local.get $e)))
            (local.set $c (i32.load8_u (local.get $i)))
            (if (i32.or (i32.or (i32.lt_u (local.get $c) (i32.const 32)) (i32.gt_u (local.get $c) (i32.const 127)))
                        (i32.or (i32.eq (local.get $c) (i32.const 34)) (i32.eq (local.get $c) (i32.const 92))))
              (then (global.set $jsonWhy (i32.const 1)) (br $stop)))
            (i32.store8 (local.get $p) (local.get $c))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $byte)))
        ;; ","normalized":"
        (v128.store (local.get $p) (v128.load (i32.const 2832)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $i (i32.const 0))
        (block $nd
          (loop $nv
            (br_if $nd (i32.ge_u (local.get $i) (local.get $nl)))
            (v128.store (i32.add (local.get $p) (local.get $i)) (v128.load (i32.add (local.get $na) (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $nv)))
        (local.set $p (i32.add (local.get $p) (local.get $nl)))
        ;; ","hash":"
        (v128.store (local.get $p) (v128.load (i32.const 2848)))
        (local.set $p (i32.add (local.get $p) (i32.const 10)))
        (local.set $i (i32.add (local.get $hex) (i32.shl (local.get $code) (i32.const 6))))
        (v128.store (local.get $p) (v128.load (local.get $i)))
        (v128.store offset=16 (local.get $p) (v128.load offset=16 (local.get $i)))
        (v128.store offset=32 (local.get $p) (v128.load offset=32 (local.get $i)))
        (v128.store offset=48 (local.get $p) (v128.load offset=48 (local.get $i)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        ;; ","prehashed":false,"error":null}\n
        (v128.store (local.get $p) (v128.load (i32.const 2864)))
        (v128.store offset=16 (local.get $p) (v128.load (i32.const 2880)))
        (v128.store offset=32 (local.get $p) (v128.load (i32.const 2896)))
        (local.set $o (i32.add (local.get $p) (i32.const 34)))
        (local.set $in (i32.add (local.get $in) (local.get $len)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $line)))
    (global.set $jsonPos (local.get $o))
    (global.set $jsonIn (local.get $in))
    (local.get $m))

  ;; jsonLines' constant parts, 16 bytes apart.
  (data (i32.const 2816) "{\"input\":\"")
  (data (i32.const 2832) "\",\"normalized\":\"")
  (data (i32.const 2848) "\",\"hash\":\"")
  (data (i32.const 2864) "\",\"prehashed\":false,\"error\":null}\n")

  ;; Email classes: 0 copy; 1 A-Z; 2 TAB LF VT FF CR space; 3 "@"; 4 "+"; 5 >= 0x80.
  (data (i32.const 2048)
    "\00\00\00\00\00\00\00\00\00\02\02\02\02\02\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\02\00\00\00\00\00\00\00\00\00\00\04\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\03\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\01\00\00\00\00\00"
    "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00"
    "\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05"
    "\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05"
    "\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05"
    "\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05\05")
  ;; Lowercase hex digit per byte: "0"-"9" and "a"-"f" themselves, "A"-"F" lowercased.
  (data (i32.const 2352) "0123456789")
  (data (i32.const 2369) "abcdef")
  (data (i32.const 2401) "abcdef")
)
