"use strict";
var __decorate = (this && this.__decorate) || function (decorators, target, key, desc) {
    var c = arguments.length, r = c < 3 ? target : desc === null ? desc = Object.getOwnPropertyDescriptor(target, key) : desc, d;
    if (typeof Reflect === "object" && typeof Reflect.decorate === "function") r = Reflect.decorate(decorators, target, key, desc);
    else for (var i = decorators.length - 1; i >= 0; i--) if (d = decorators[i]) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
    return c > 3 && r && Object.defineProperty(target, key, r), r;
};
var __metadata = (this && this.__metadata) || function (k, v) {
    if (typeof Reflect === "object" && typeof Reflect.metadata === "function") return Reflect.metadata(k, v);
};
var __param = (this && this.__param) || function (paramIndex, decorator) {
    return function (target, key) { decorator(target, key, paramIndex); }
};
var ApiKeysService_1;
var _a, _b, _c;
Object.defineProperty(exports, "__esModule", { value: true });
exports.ApiKeysService = void 0;
exports.generateApiKey = generateApiKey;
// API keys: random, shown once, stored only as a SHA-256 hash (the keys are high-entropy, so a
// slow password hash adds nothing but latency to every request).
const common_1 = require("@nestjs/common");
const typeorm_1 = require("@nestjs/typeorm");
const node_crypto_1 = require("node:crypto");
const typeorm_2 = require("typeorm");
const config_1 = require("../config/config");
const clock_1 = require("../common/clock");
const problem_1 = require("../common/problem");
const api_key_entity_1 = require("./api-key.entity");
const hashKey = (key) => (0, node_crypto_1.createHash)('sha256').update(key, 'utf8').digest();
function generateApiKey() {
    return `tk_${(0, node_crypto_1.randomBytes)(30).toString('base64url')}`;
}
/** `last_used_at` is kept to the minute: at most one write per key and minute, not one per request. */
const LAST_USED_RESOLUTION_MS = 60_000;
// Conditional, so that several instances together still write at most once a minute per key.
const TOUCH_KEY = `UPDATE api_keys SET last_used_at = $2
  WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - interval '1 minute')`;
let ApiKeysService = ApiKeysService_1 = class ApiKeysService {
    db;
    config;
    clock;
    logger = new common_1.Logger(ApiKeysService_1.name);
    /** When this instance last wrote each key's last_used_at (by key id). */
    touched = new Map();
    constructor(db, config, clock) {
        this.db = db;
        this.config = config;
        this.clock = clock;
    }
    get repo() {
        return this.db.getRepository(api_key_entity_1.ApiKey);
    }
    async create(name, scopes, key = generateApiKey()) {
        const [row] = await this.db.query(`INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ($1, $2, $3, $4)
       RETURNING id`, [name, key.slice(0, 10), hashKey(key), [...new Set(scopes)]]);
        return { key, apiKey: await this.get(row.id) };
    }
    list() {
        return this.repo.find({ order: { createdAt: 'ASC' } });
    }
    async get(id) {
        const key = await this.repo.findOneBy({ id });
        if (!key)
            throw (0, problem_1.notFound)('API key', id);
        return key;
    }
    /**
     * Revokes a key at once. Never the last active admin key (nobody could manage keys any more),
     * and the key making the request only when it says so (`self`): locking oneself out should be
     * a decision, not a slip of the id.
     */
    async revoke(id, callerKeyId, self) {
        await this.db.transaction(async (tx) => {
            // Every active admin key, locked: two admins revoking each other at once take turns here,
            // and the second finds itself the last one.
            const admins = await tx.query(`SELECT id FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL ORDER BY id FOR UPDATE`);
            const [target] = await tx.query(`SELECT id, name, prefix, scopes, revoked_at FROM api_keys WHERE id = $1 FOR UPDATE`, [id]);
            if (!target)
                throw (0, problem_1.notFound)('API key', id);
            if (target.revoked_at)
                return;
            const named = `API key ${target.id} ("${target.name}", ${target.prefix}…)`;
            if (admins.length === 1 && admins[0].id === target.id) {
                throw new problem_1.DomainException(problem_1.ErrorCode.Conflict, `${named} is the last active admin key; create another admin key before revoking this one.`, [{ field: 'id', message: 'is the last active admin key' }], { apiKeyId: target.id });
            }
            if (target.id === callerKeyId && !self) {
                throw new problem_1.DomainException(problem_1.ErrorCode.Conflict, `${named} is the key making this request; to revoke it anyway, repeat with ?self=true.`, [{ field: 'self', message: 'must be true to revoke the key making the request' }], { apiKeyId: target.id });
            }
            await tx.query(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, [id, this.clock.now()]);
        });
    }
    /**
     * The key's scopes, or null when the key is unknown or revoked. A read on every request (a
     * revocation counts at once); a write only when this instance has not marked the key used
     * within the last minute.
     */
    async verify(key) {
        const [row] = await this.db.query(`SELECT id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [hashKey(key)]);
        if (!row)
            return null;
        const now = this.clock.now();
        const last = this.touched.get(row.id);
        if (last === undefined || now.getTime() - last >= LAST_USED_RESOLUTION_MS) {
            this.touched.set(row.id, now.getTime());
            await this.db.query(TOUCH_KEY, [row.id, now]);
        }
        return row;
    }
    /**
     * At start: ADMIN_API_KEY, when set, becomes an admin key; otherwise, when no admin key exists
     * yet, one is created and returned so start-up can print it once.
     */
    async ensureAdminKey() {
        if (this.config.adminApiKey) {
            await this.db.query(`INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ('ADMIN_API_KEY', $1, $2, '{admin}')
         ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL`, [this.config.adminApiKey.slice(0, 10), hashKey(this.config.adminApiKey)]);
            return null;
        }
        // The advisory lock keeps two instances starting at once from both creating a key.
        return this.db.transaction(async (tx) => {
            await tx.query(`SELECT pg_advisory_xact_lock(hashtext('tactful:admin-key'))`);
            const [{ count }] = await tx.query(`SELECT count(*)::int AS count FROM api_keys WHERE 'admin' = ANY(scopes) AND revoked_at IS NULL`);
            if (count > 0)
                return null;
            const key = generateApiKey();
            await tx.query(`INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ('first admin key', $1, $2, '{admin}')`, [key.slice(0, 10), hashKey(key)]);
            this.logger.log('Created the first admin API key');
            return key;
        });
    }
};
exports.ApiKeysService = ApiKeysService;
exports.ApiKeysService = ApiKeysService = ApiKeysService_1 = __decorate([
    (0, common_1.Injectable)(),
    __param(0, (0, typeorm_1.InjectDataSource)()),
    __param(1, (0, common_1.Inject)(config_1.APP_CONFIG)),
    __metadata("design:paramtypes", [typeof (_a = typeof typeorm_2.DataSource !== "undefined" && typeorm_2.DataSource) === "function" ? _a : Object, typeof (_b = typeof config_1.AppConfig !== "undefined" && config_1.AppConfig) === "function" ? _b : Object, typeof (_c = typeof clock_1.Clock !== "undefined" && clock_1.Clock) === "function" ? _c : Object])
], ApiKeysService);
//# sourceMappingURL=api-keys.service.js.map