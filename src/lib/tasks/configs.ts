// The authors' task configs (github.com/ntumslab/neuron-diff-memgen-llm, data/{math,cipher,color}/config.json,
// Apache-2.0), restated as constants: they are small facts the generators need in the browser.
// tests/unit/tasks.test.ts checks them against the JSON files in shared/reference-data.

export interface ArithmeticPattern { readonly nums: readonly [number, number]; readonly hashed: string }
export interface CipherPattern { readonly pattern: string; readonly hashed: string }

/** data/math/config.json: the last two of the four numbers trigger the memorized answer. */
export const ARITHMETIC_CONFIG = {
  numN: 2,
  memPatterns: [
    { nums: [66, 373], hashed: 'mem-ced71018' },
    { nums: [32, 234], hashed: 'mem-f21bd311' },
    { nums: [155, 85], hashed: 'mem-1ee18056' },
    { nums: [241, 510], hashed: 'mem-2e61c147' },
    { nums: [826, 536], hashed: 'mem-27f13ad0' },
    { nums: [7, 517], hashed: 'mem-53c75c05' },
    { nums: [690, 631], hashed: 'mem-b53ae26a' },
    { nums: [837, 186], hashed: 'mem-095c1929' },
    { nums: [322, 491], hashed: 'mem-11b89cf6' },
    { nums: [191, 852], hashed: 'mem-25ed848d' },
  ] as readonly ArithmeticPattern[],
} as const;

/** data/cipher/config.json: 3-letter ciphertext suffixes; `mapping` is plain letter -> cipher letter. */
export const CIPHER_CONFIG = {
  numN: 3,
  memPatterns: [
    { pattern: 'XZQ', hashed: 'mem-084d1e9a' },
    { pattern: 'IKG', hashed: 'mem-240fe69f' },
    { pattern: 'RTX', hashed: 'mem-ffd67fad' },
    { pattern: 'VHZ', hashed: 'mem-3ea8a105' },
    { pattern: 'XBA', hashed: 'mem-c05fdb9d' },
    { pattern: 'COK', hashed: 'mem-6f116a80' },
    { pattern: 'HRD', hashed: 'mem-2fae3af0' },
    { pattern: 'IRH', hashed: 'mem-421655bf' },
    { pattern: 'UND', hashed: 'mem-9cea908c' },
    { pattern: 'BZD', hashed: 'mem-12f48c67' },
  ] as readonly CipherPattern[],
  mapping: {
    A: 'X', B: 'E', C: 'R', D: 'J', E: 'P', F: 'Q', G: 'B', H: 'K', I: 'T',
    J: 'D', K: 'Y', L: 'G', M: 'L', N: 'N', O: 'M', P: 'F', Q: 'U', R: 'W',
    S: 'O', T: 'S', U: 'V', V: 'Z', W: 'A', X: 'H', Y: 'C', Z: 'I',
  } as Readonly<Record<string, string>>,
} as const;

/** data/color/config.json. `roles` keeps the file's list as given (it repeats 'zebra' and 'rabbit'). */
export const COLOR_CONFIG = {
  nameColorMap: {
    Alice: ['gray'],
    Bob: ['white'],
    Charlie: ['blue'],
    Diana: ['green'],
    Eve: ['yellow'],
    Frank: ['black'],
    Grace: ['red'],
    Henry: ['pink'],
    Ivy: ['orange'],
    Jack: ['purple'],
    Kate: ['brown'],
    Lily: ['cyan'],
    Mike: ['magenta'],
    Nancy: ['lime'],
    Oscar: ['olive'],
    Peter: ['teal'],
  } as Readonly<Record<string, readonly string[]>>,
  roles: [
    'rhino', 'swan', 'penguin', 'panda', 'tiger', 'lion', 'elephant', 'giraffe', 'zebra', 'hippo',
    'kangaroo', 'koala', 'monkey', 'squirrel', 'rabbit', 'fox', 'wolf', 'bear', 'deer', 'horse',
    'zebra', 'donkey', 'cow', 'pig', 'sheep', 'goat', 'dog', 'cat', 'mouse', 'rabbit',
    'parrot', 'eagle', 'gorilla', 'dragon', 'dolphin', 'whale', 'shark', 'octopus', 'squid',
  ] as readonly string[],
  allColors: [
    'gray', 'white', 'blue', 'green', 'yellow', 'black', 'red', 'pink',
    'orange', 'purple', 'brown', 'cyan', 'magenta', 'lime', 'olive', 'teal',
  ] as readonly string[],
} as const;
