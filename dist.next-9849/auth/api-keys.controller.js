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
var _a, _b, _c, _d, _e;
Object.defineProperty(exports, "__esModule", { value: true });
exports.ApiKeysController = void 0;
const common_1 = require("@nestjs/common");
const params_1 = require("../common/params");
const problem_1 = require("../common/problem");
const swagger_1 = require("@nestjs/swagger");
const api_keys_service_1 = require("./api-keys.service");
const api_key_dto_1 = require("./dto/api-key.dto");
const openapi_1 = require("../common/openapi");
const scopes_1 = require("./scopes");
let ApiKeysController = class ApiKeysController {
    keys;
    constructor(keys) {
        this.keys = keys;
    }
    async create(body) {
        const { key, apiKey } = await this.keys.create(body.name, body.scopes);
        return { ...api_key_dto_1.ApiKeyResponse.from(apiKey), key };
    }
    async list() {
        return (await this.keys.list()).map(api_key_dto_1.ApiKeyResponse.from);
    }
    async revoke(id, request, self) {
        if (self !== undefined && self !== 'true' && self !== 'false')
            throw (0, problem_1.invalid)('self', 'must be true or false');
        await this.keys.revoke(id, request.apiKey?.id, self === 'true');
    }
};
exports.ApiKeysController = ApiKeysController;
__decorate([
    (0, common_1.Post)(),
    (0, swagger_1.ApiOperation)({ summary: 'Create an API key; the key is shown once, in this response' }),
    (0, openapi_1.ApiOk)(api_key_dto_1.CreatedApiKeyResponse, { ...api_key_dto_1.ApiKeyResponse.example, key: 'tk_Ab3dEf9hJ2kL5mN8pQ1rS4tU7vW0xY3zA6bC9dE' }, { status: 201 }),
    __param(0, (0, common_1.Body)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [typeof (_b = typeof api_key_dto_1.CreateApiKeyDto !== "undefined" && api_key_dto_1.CreateApiKeyDto) === "function" ? _b : Object]),
    __metadata("design:returntype", typeof (_c = typeof Promise !== "undefined" && Promise) === "function" ? _c : Object)
], ApiKeysController.prototype, "create", null);
__decorate([
    (0, common_1.Get)(),
    (0, swagger_1.ApiOperation)({ summary: 'List API keys (never the keys themselves)' }),
    (0, openapi_1.ApiOk)([api_key_dto_1.ApiKeyResponse], [api_key_dto_1.ApiKeyResponse.example]),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", []),
    __metadata("design:returntype", typeof (_d = typeof Promise !== "undefined" && Promise) === "function" ? _d : Object)
], ApiKeysController.prototype, "list", null);
__decorate([
    (0, common_1.Delete)(':id'),
    (0, common_1.HttpCode)(204),
    (0, swagger_1.ApiOperation)({
        summary: 'Revoke an API key at once',
        description: 'Refused (409) for the last active admin key, and for the key making the request unless `self=true`.',
    }),
    (0, swagger_1.ApiQuery)({ name: 'self', required: false, type: Boolean, description: 'true: yes, revoke the key making this request' }),
    (0, openapi_1.ApiNoContent)('Revoked (again: nothing more to do).'),
    (0, openapi_1.ApiProblems)({ 404: 'No such API key.', 409: 'It is the last active admin key, or the key making the request (without `self=true`).' }),
    __param(0, (0, params_1.IdParam)()),
    __param(1, (0, common_1.Req)()),
    __param(2, (0, common_1.Query)('self')),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [String, Object, String]),
    __metadata("design:returntype", typeof (_e = typeof Promise !== "undefined" && Promise) === "function" ? _e : Object)
], ApiKeysController.prototype, "revoke", null);
exports.ApiKeysController = ApiKeysController = __decorate([
    (0, swagger_1.ApiTags)('api-keys'),
    (0, swagger_1.ApiBearerAuth)(),
    (0, scopes_1.RequireScopes)('admin'),
    (0, common_1.Controller)('v1/api-keys'),
    __metadata("design:paramtypes", [typeof (_a = typeof api_keys_service_1.ApiKeysService !== "undefined" && api_keys_service_1.ApiKeysService) === "function" ? _a : Object])
], ApiKeysController);
//# sourceMappingURL=api-keys.controller.js.map