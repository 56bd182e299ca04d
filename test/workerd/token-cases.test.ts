/** The token format's shared cases under workerd's WebCrypto (the Worker verifies here). */
import { describeTokenCases } from "../shared/token-cases";

describeTokenCases("workerd");
