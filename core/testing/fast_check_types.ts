/**
 * The part of fast-check's API that op arbitraries use, as structural types, so the runtime never
 * imports fast-check: tests pass the real module in (`fc as unknown as FastCheck` is not needed;
 * the real module satisfies these types).
 */

export interface Arbitrary<T> {
  map<U>(mapper: (t: T) => U): Arbitrary<U>;
  chain<U>(chainer: (t: T) => Arbitrary<U>): Arbitrary<U>;
  filter(predicate: (t: T) => boolean): Arbitrary<T>;
}

export interface IntegerConstraints {
  min?: number;
  max?: number;
}
export interface ArrayConstraints {
  minLength?: number;
  maxLength?: number;
}

export interface FastCheck {
  integer(constraints?: IntegerConstraints): Arbitrary<number>;
  nat(max?: number): Arbitrary<number>;
  boolean(): Arbitrary<boolean>;
  constant<T>(value: T): Arbitrary<T>;
  constantFrom<const T extends readonly unknown[]>(...values: T): Arbitrary<T[number]>;
  array<T>(arb: Arbitrary<T>, constraints?: ArrayConstraints): Arbitrary<T[]>;
  tuple<Ts extends unknown[]>(...arbs: { [K in keyof Ts]: Arbitrary<Ts[K]> }): Arbitrary<Ts>;
  record<T>(model: { [K in keyof T]: Arbitrary<T[K]> }): Arbitrary<T>;
  oneof<Ts extends Arbitrary<unknown>[]>(
    ...arbs: Ts
  ): Arbitrary<Ts[number] extends Arbitrary<infer U> ? U : never>;
}
