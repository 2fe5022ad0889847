// The comparison lives in core (core/mismatch.ts): the compareWithReference run option uses it too.
export { mismatch, ulp16, ulpDistance } from "../../core/mismatch.ts";
