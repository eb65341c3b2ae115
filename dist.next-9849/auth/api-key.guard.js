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
var _a, _b;
Object.defineProperty(exports, "__esModule", { value: true });
exports.ApiKeyGuard = void 0;
// Every route needs an API key unless it is marked @Public(); a route without @RequireScopes is admin-only.
const common_1 = require("@nestjs/common");
const core_1 = require("@nestjs/core");
const problem_1 = require("../common/problem");
const api_keys_service_1 = require("./api-keys.service");
const scopes_1 = require("./scopes");
let ApiKeyGuard = class ApiKeyGuard {
    reflector;
    keys;
    constructor(reflector, keys) {
        this.reflector = reflector;
        this.keys = keys;
    }
    async canActivate(context) {
        const targets = [context.getHandler(), context.getClass()];
        if (this.reflector.getAllAndOverride(scopes_1.PUBLIC_KEY, targets))
            return true;
        const required = this.reflector.getAllAndOverride(scopes_1.SCOPES_KEY, targets) ?? ['admin'];
        const request = context.switchToHttp().getRequest();
        const header = request.headers.authorization ?? '';
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        if (!match) {
            throw new problem_1.DomainException(problem_1.ErrorCode.Unauthorized, 'Send an API key as "Authorization: Bearer <key>".');
        }
        const key = await this.keys.verify(match[1]);
        if (!key)
            throw new problem_1.DomainException(problem_1.ErrorCode.Unauthorized, 'The API key is unknown or revoked.');
        if (!(0, scopes_1.scopesAllow)(key.scopes, required)) {
            throw new problem_1.DomainException(problem_1.ErrorCode.Forbidden, `This API key lacks the scope for this route; it needs one of: ${required.join(', ')}.`, undefined, { requiredScopes: required });
        }
        request.apiKey = key;
        return true;
    }
};
exports.ApiKeyGuard = ApiKeyGuard;
exports.ApiKeyGuard = ApiKeyGuard = __decorate([
    (0, common_1.Injectable)(),
    __metadata("design:paramtypes", [typeof (_a = typeof core_1.Reflector !== "undefined" && core_1.Reflector) === "function" ? _a : Object, typeof (_b = typeof api_keys_service_1.ApiKeysService !== "undefined" && api_keys_service_1.ApiKeysService) === "function" ? _b : Object])
], ApiKeyGuard);
//# sourceMappingURL=api-key.guard.js.map